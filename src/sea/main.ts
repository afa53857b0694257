/**
 * Entry of the single executable (`npm run dist`): the command-line program, with codec addons
 * and the compression worker taken from the executable's assets. Node puts the name the
 * executable was invoked by in argv[1], so a link named `makedumpfile` runs the drop-in.
 */
import './install.js';
import { main } from '../cli/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
