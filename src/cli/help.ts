/**
 * The examples and exit codes each command's `--help` ends with. The man page
 * (scripts/man.mjs → vmcore-filter.1) is generated from the same commander help and these
 * texts, so the two cannot drift apart (test/package checks the committed page is current).
 */
import type { Command } from 'commander';

/** The process exit codes (README "Exit codes", src/errors.ts EXIT). */
export const EXIT_CODES: readonly [string, string][] = [
  ['0', 'success'],
  ['1', 'internal error (a bug; VMCORE_FILTER_DEBUG=1 prints the stack)'],
  ['2', 'bad arguments, or a codec that cannot load'],
  ['3', 'the input cannot be opened or read'],
  ['4', 'the input is not a dump we understand, or is corrupt'],
  ['5', 'VMCOREINFO missing, malformed, or lacking a key the job needs'],
  ['6', 'the output cannot be written (exists without -f, is the input, I/O error)'],
  ['7', 'no space left on the output device (after every -d retry level)'],
  ['8', 'partial: the input was truncated; what was there was filtered'],
  ['130, 143', 'interrupted by SIGINT / SIGTERM; the temporary output was removed'],
];

/** Two or three real command lines per command, with what each does. */
export const EXAMPLES: Readonly<Record<string, readonly [string, string][]>> = {
  filter: [
    ['vmcore-filter /var/crash/vmcore dump', 'drop free, hinted, offline and hwpoison pages (dump level 16)'],
    ['vmcore-filter -d 31 -l /proc/vmcore /var/crash/dump', "makedumpfile's usual kdump setting, lzo-compressed"],
    ['vmcore-filter -F -z -d 31 /proc/vmcore - | ssh host "cat > dump.flat"', 'flattened stream to another machine'],
  ],
  sim: [
    ['vmcore-filter sim img', 'a 512 MiB Linux 6.0 machine: img and img.truth.json'],
    ['vmcore-filter sim img --mem 1G --seed 3 --kaslr --kernel linux-6.12', 'another machine, randomised bases'],
    ['vmcore-filter sim img --mem 64M --high-mem 64M@60T --free-content zero', 'and 64 MiB of RAM at 60 TiB: max_mapnr about 2^34, a sparse image'],
  ],
  demo: [
    ['vmcore-filter demo', 'simulate, filter and print the report (nothing kept)'],
    ['vmcore-filter demo --keep /tmp/demo --json | jq .pages', 'keep the image and the dump; the report as JSON'],
  ],
  reassemble: [
    ['vmcore-filter reassemble dump.flat dump', 'a flattened stream (makedumpfile -R); "-" reads stdin'],
    ['vmcore-filter reassemble part1 part2 part3 dump', 'split parts (makedumpfile --reassemble)'],
  ],
  info: [
    ['vmcore-filter info /var/crash/*/dump*', 'format, kernel, crash time and completeness of each dump'],
    ['vmcore-filter info --json /var/crash/*/vmcore | jq -c "{path, complete}"', 'one JSON object per line (JSON Lines)'],
  ],
  stats: [
    ['vmcore-filter stats vmcore', 'pages per class, zone and range; size per dump level and codec'],
    ['vmcore-filter stats -d 11 --sample 1 vmcore', 'also level 11, with exact compressed sizes'],
    ['vmcore-filter stats --json host1/vmcore host2/vmcore > fleet.jsonl', 'one JSON object per dump'],
  ],
  makedumpfile: [
    ['vmcore-filter makedumpfile -l --message-level 7 -d 31 /proc/vmcore /var/crash/dump', 'what kdump-tools runs'],
    ['vmcore-filter makedumpfile --dump-dmesg /proc/vmcore /var/crash/dmesg.txt', 'the kernel log only'],
    ['ln -s "$(command -v vmcore-filter)" /usr/local/sbin/makedumpfile', 'the drop-in under its own name'],
  ],
  dmesg: [
    ['vmcore-filter dmesg vmcore | tail -50', 'the last lines of the kernel log'],
    ['vmcore-filter dmesg --json vmcore | jq -r ".records[-1].text"', 'records as JSON'],
  ],
  map: [
    ['vmcore-filter map vmcore -o map.svg', 'physical memory by page class'],
    ['vmcore-filter map -d 31 vmcore -o map.svg', 'hatch what -d 31 leaves out (zero pages found by content)'],
  ],
};

/** The help epilogue of `name`: its examples, then the exit codes. */
export function helpEpilogue(name: string): string {
  const ex = EXAMPLES[name] ?? [];
  const lines: string[] = [];
  if (ex.length) {
    lines.push('', 'Examples:');
    for (const [cmd, what] of ex) lines.push(`  $ ${cmd}`, `      ${what}`);
  }
  lines.push('', 'Exit codes:');
  for (const [code, what] of EXIT_CODES) lines.push(`  ${code.padEnd(9)}${what}`);
  return lines.join('\n') + '\n';
}

/** Add the epilogue to every command of `program` and to the program itself. */
export function addHelpEpilogues(program: Command): void {
  for (const c of program.commands) c.addHelpText('after', helpEpilogue(c.name()));
  program.addHelpText('after', helpEpilogue('filter'));
}
