#!/usr/bin/env node
// The `updraft` command of @updraft/cli: finds the binary in the per-platform
// package npm installed next to this one (@updraft/cli-<os>-<cpu>) and runs it
// with the same arguments, standard streams, exit code and signals.
'use strict';

const { spawn } = require('child_process');
const path = require('path');

const { name: MAIN, version: VERSION, optionalDependencies = {} } = require('../package.json');
const platform = `${process.platform}-${process.arch}`;
const pkg = `${MAIN}-${platform}`;
const exe = process.platform === 'win32' ? 'updraft.exe' : 'updraft';

function fail(lines) {
  process.stderr.write(`error: ${lines.join('\n  ')}\n`);
  process.exit(1);
}

function binaryPath() {
  // For testing a build of your own: the path of an `updraft` binary to run instead.
  if (process.env.UPDRAFT_BINARY_PATH) return process.env.UPDRAFT_BINARY_PATH;
  if (!Object.prototype.hasOwnProperty.call(optionalDependencies, pkg)) {
    const supported = Object.keys(optionalDependencies).map((d) => d.slice(MAIN.length + 1));
    fail([
      `${MAIN} has no prebuilt binary for ${platform} (it has ${supported.join(', ')}).`,
      'Build the CLI from source instead: cargo install --locked updraft-cli',
    ]);
  }
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', exe);
  } catch {
    fail([
      `the package ${pkg}, which holds the updraft binary for ${platform}, is not installed.`,
      `It is an optional dependency of ${MAIN}: it is skipped by \`npm install --omit=optional\``,
      '(or --no-optional, or a lockfile made on another platform). Install it with:',
      `    npm install --save-dev ${pkg}@${VERSION}`,
    ]);
  }
}

const bin = binaryPath();
const child = spawn(bin, process.argv.slice(2), { stdio: 'inherit', windowsHide: true });

// A signal sent to this process (CI cancelling a job, `kill`) goes to the binary,
// which decides what to do with it; this process ends when the binary does.
const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGBREAK'];
const forward = (signal) => {
  // Ctrl-C and Ctrl-\ in a terminal already reach the whole foreground process
  // group, the binary included: forwarding them again would deliver them twice.
  if (process.stdin.isTTY && (signal === 'SIGINT' || signal === 'SIGQUIT')) {
    return;
  }
  try {
    child.kill(signal);
  } catch {
    // The child is already gone.
  }
};
for (const signal of forwarded) {
  try {
    process.on(signal, forward);
  } catch {
    // Not a signal on this platform (SIGBREAK outside Windows).
  }
}

child.on('error', (err) => {
  fail([`cannot run ${bin}: ${err.message}`]);
});

child.on('exit', (code, signal) => {
  if (signal) {
    // Die of the same signal, so a caller sees what the binary saw.
    for (const s of forwarded) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    // Signals that do not end a process on this platform: the shell's convention.
    process.exit(128 + (require('os').constants.signals[signal] || 1));
  }
  process.exit(code === null ? 1 : code);
});
