// Runs the real @capgo/electron-updater against an Updraft server, with a stub
// `electron` module (as the package's own tests mock it): asks for the latest
// bundle, downloads it through the updater's own DownloadManager (checksum
// verification, decryption, unzip) and reads the installed index.html.
// Usage: node electron_updater.cjs NODE_MODULES SERVER_BASE APP_ID PUBLIC_KEY_PEM_FILE USER_DATA_DIR
// Prints {"latest": ..., "bundle": ..., "index_html": ...} and exits 0 when the
// bundle installs; prints {"latest": ..., "error": "..."} and exits 1 otherwise.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const [nodeModules, base, appId, publicKeyFile, userData] = process.argv.slice(2);

const noop = () => {};
const electron = {
  app: {
    getPath: () => userData,
    getVersion: () => '1.0.0',
    getName: () => 'updraft-electron-test',
    isPackaged: true,
    on: noop,
    relaunch: noop,
    exit: noop,
    quit: noop,
  },
  safeStorage: {
    isEncryptionAvailable: () => false,
    encryptString: (s) => Buffer.from(s),
    decryptString: (b) => b.toString(),
  },
  BrowserWindow: { getAllWindows: () => [], getFocusedWindow: () => null },
  ipcMain: { handle: noop, on: noop, removeHandler: noop },
  globalShortcut: { register: () => true, unregister: noop, isRegistered: () => false },
  Menu: { buildFromTemplate: () => ({ popup: noop }), setApplicationMenu: noop },
  MenuItem: class {},
  dialog: { showMessageBox: async () => ({ response: 0 }) },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === 'electron' ? electron : load.call(this, request, ...rest);
};

const { ElectronUpdater, BUNDLES_DIR } = require(path.join(nodeModules, '@capgo/electron-updater'));

(async () => {
  const updater = new ElectronUpdater({
    appId,
    updateUrl: `${base}/updates`,
    statsUrl: `${base}/stats`,
    channelUrl: `${base}/channel_self`,
    publicKey: fs.readFileSync(publicKeyFile, 'utf8'),
    version: '1.0.0',
    autoUpdate: false,
    disableJSLogging: true,
  });
  const window = { on: noop, loadURL: async () => {}, loadFile: async () => {}, webContents: { send: noop } };
  await updater.initialize(window, path.join(userData, 'builtin'));
  const latest = await updater.getLatest();
  if (!latest.url) {
    console.log(JSON.stringify({ latest, error: 'no update offered' }));
    process.exit(1);
  }
  try {
    const bundle = await updater.download({
      url: latest.url,
      version: latest.version,
      checksum: latest.checksum,
      sessionKey: latest.sessionKey,
      manifest: latest.manifest,
    });
    const index = path.join(userData, BUNDLES_DIR, bundle.id, 'www', 'index.html');
    console.log(JSON.stringify({ latest, bundle, index_html: fs.readFileSync(index, 'utf8') }));
    process.exit(0);
  } catch (e) {
    console.log(JSON.stringify({ latest, error: String(e && e.message ? e.message : e) }));
    process.exit(1);
  }
})().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack ? e.stack : e) }));
  process.exit(1);
});
