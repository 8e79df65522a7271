// Verifies an encrypted bundle the way @capgo/capacitor-updater does
// (plugin-protocol.md §4), with nothing but Node's crypto: RSA public-decrypt
// of the AES key and of the checksum, AES-128-CBC decrypt of the zip, SHA-256
// compare. Usage: node verify_bundle.mjs ENCRYPTED_ZIP SESSION_KEY CHECKSUM PUBLIC_KEY_PEM_FILE OUT_ZIP
// Prints {"sha256": "..."} and exits 0 when the bundle verifies; exits 1 otherwise.
import { readFileSync, writeFileSync } from 'node:fs';
import { createDecipheriv, createHash, publicDecrypt, constants } from 'node:crypto';

const [encPath, sessionKey, checksum, pubPath, outPath] = process.argv.slice(2);
const publicKey = readFileSync(pubPath, 'utf8');
const rsa = (buf) => publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, buf);

const parts = sessionKey.split(':');
if (parts.length !== 2) throw new Error('session key must have exactly two parts');
const iv = Buffer.from(parts[0], 'base64');
const aesKey = rsa(Buffer.from(parts[1], 'base64'));
if (iv.length !== 16 || aesKey.length !== 16) throw new Error(`bad sizes iv=${iv.length} key=${aesKey.length}`);

const decipher = createDecipheriv('aes-128-cbc', aesKey, iv);
const zip = Buffer.concat([decipher.update(readFileSync(encPath)), decipher.final()]);
const sha = createHash('sha256').update(zip).digest('hex');

const block = /^[0-9a-fA-F]+$/.test(checksum) ? Buffer.from(checksum, 'hex') : Buffer.from(checksum, 'base64');
if (block.length !== 256) throw new Error('checksum is not a 256-byte RSA block');
const expected = rsa(block).toString('hex');
if (expected !== sha) {
  console.error(`checksum mismatch: zip ${sha}, checksum says ${expected}`);
  process.exit(1);
}
writeFileSync(outPath, zip);
console.log(JSON.stringify({ sha256: sha }));
