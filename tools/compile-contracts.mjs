// Rebuilds contracts/build/<Contract>.json from contracts/*.sol with the pinned solc-js (package-lock.json).
// Reproducible: fixed compiler, fixed settings, no absolute paths in the input, sorted keys, trailing newline.
// `make contracts` runs it; a test compiles again into a temporary folder and compares the bytes.
//
//   node tools/compile-contracts.mjs [out-dir]      (default: contracts/build)
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const solc = require('solc');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'contracts');
const outDir = process.argv[2] ?? join(sourceDir, 'build');

const files = readdirSync(sourceDir).filter((f) => f.endsWith('.sol')).sort();
const input = {
  language: 'Solidity',
  sources: Object.fromEntries(files.map((f) => [f, { content: readFileSync(join(sourceDir, f), 'utf8') }])),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const problems = (output.errors ?? []).filter((e) => e.severity === 'error');
if (problems.length) {
  console.error(problems.map((e) => e.formattedMessage).join('\n'));
  process.exit(1);
}

const sortKeys = (value) =>
  Array.isArray(value)
    ? value.map(sortKeys)
    : value && typeof value === 'object'
      ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]))
      : value;

mkdirSync(outDir, { recursive: true });
for (const file of files) {
  for (const [name, contract] of Object.entries(output.contracts[file]).sort()) {
    const artifact = {
      abi: contract.abi,
      bytecode: '0x' + contract.evm.bytecode.object,
      compiler: `solc-js ${solc.version()}`,
      contractName: name,
      deployedBytecode: '0x' + contract.evm.deployedBytecode.object,
      settings: { evmVersion: input.settings.evmVersion, optimizer: input.settings.optimizer },
      source: `contracts/${file}`,
    };
    const path = join(outDir, `${name}.json`);
    writeFileSync(path, JSON.stringify(sortKeys(artifact), null, 2) + '\n');
    console.log(`wrote ${path}`);
  }
}
