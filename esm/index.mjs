// The ES module entry re-exports the CommonJS build, so `import` and `require`
// share one copy of every class: `instanceof` checks and the client's state
// hold across both module systems (Node's recommended dual-package layout).
export * from '../dist/index.js';
