// Module resolution hook for `denali run --target node`: maps the bare specifier "dsl" to the DSL's
// Node runtime (dsl/index.ts), wherever the program file lives.
const dslUrl = new URL('../dsl/index.ts', import.meta.url).href;
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'dsl') return { url: dslUrl, shortCircuit: true };
  return nextResolve(specifier, context);
}
