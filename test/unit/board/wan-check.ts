// Helper for board.test.ts: prints, as JSON, wanUp() for each remote given on the command line,
// run inside a test namespace (the answer depends on the namespace's routes and interfaces).
import { wanUp } from '../../../board/wan.ts';

const out: Record<string, boolean> = {};
for (const remote of process.argv.slice(2)) out[remote] = await wanUp(remote);
process.stdout.write(JSON.stringify(out) + '\n');
