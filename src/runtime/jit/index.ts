// eBPF -> WebAssembly JIT: see engine.ts (running), compile.ts (code
// generation), cfg.ts (control flow), wasm.ts (binary writer).
export { JitProgram, jitCompile, jitExecute, type BatchInputs, type BatchResult, type CompileStats, type JitMode, type JitProgramOptions } from './engine.js';
export { compileProgram, type CompiledCode, type JitCompileOptions } from './compile.js';
