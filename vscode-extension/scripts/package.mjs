// Builds the .vsix: node scripts/package.mjs [--server PATH --target PLATFORM-ARCH] [--out FILE]
//   Without --server: a platform-neutral .vsix that finds gatehouse via gatehouse.path or PATH.
//   With --server and --target (for example linux-x64): the binary is bundled as
//   server/<target>/gatehouse and the .vsix is marked for that VS Code target.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const server = opt('--server');
const target = opt('--target');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const out = resolve(opt('--out') ?? join(root, target ? `gatehouse-${target}-${version}.vsix` : `gatehouse-${version}.vsix`));

if (Boolean(server) !== Boolean(target)) {
  console.error('--server and --target go together (for example --server ../target/release/gatehouse --target linux-x64)');
  process.exit(2);
}

const run = (cmd, cmdArgs) => execFileSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
const bin = (name) => join(root, 'node_modules', '.bin', name);

rmSync(join(root, 'server'), { recursive: true, force: true });
run(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--minify']);
const vsceArgs = ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--out', out];
if (server) {
  const exe = target.startsWith('win32') ? 'gatehouse.exe' : 'gatehouse';
  const dest = join(root, 'server', target, exe);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(server, dest);
  chmodSync(dest, 0o755);
  vsceArgs.push('--target', target);
}
try {
  run(bin('vsce'), vsceArgs);
} finally {
  rmSync(join(root, 'server'), { recursive: true, force: true });
}
console.log(`wrote ${out}`);
