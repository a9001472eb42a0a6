// Types for the ES module entry: the same declarations as the CommonJS build.
export * from '../dist/index.js';
