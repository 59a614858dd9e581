#!/usr/bin/env node
// Committed shim so npm can link the `tributary`/`trib` bins before the TypeScript build exists.
import '../dist/main.js';
