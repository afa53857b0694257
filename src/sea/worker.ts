/** Compression worker of the single executable: the embedded addons, then the ordinary worker. */
import './install.js';
import '../writer/workers/compress-worker.js';
