// Runs the tsbpf command line in this process and reports its peak memory
// on stderr (`MAXRSS <kilobytes>`): used by the constant-memory checks.
//   node dist/test/replay/rss-child.js run FILE.o --pcap IN ...
import { main } from '../../src/cli/main.js';

const code = await main(process.argv.slice(2));
process.stderr.write(`MAXRSS ${process.resourceUsage().maxRSS}\n`);
process.exitCode = code;
