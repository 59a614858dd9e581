#!/usr/bin/env node
import { ensureBuilt } from './ensure.mjs';
ensureBuilt();
