/**
 * A SavedModel is a program: an uploaded one may hold ops that read `/etc/hostname`, write files
 * or run Python, and TensorFlow would run them for whoever calls `/infer`. This check reads
 * saved_model.pb before TensorFlow does and refuses (400 `forbidden_op`, naming op, node and
 * function) any node, in the top graph or in any function of the library, whose op is not on the
 * allowlist of ops that compute on tensors (saved-model-ops.ts), with two narrow exceptions real
 * exports need:
 *
 * - the checkpoint ops (`SaveV2`, `RestoreV2`, ...) in what only the saver reaches: the nodes
 *   behind `saver_def`'s save tensor and restore op and the functions they call, and nothing else
 *   (no signature, no function the library holds uncalled) may reach them; a restore reads only
 *   the saver's filename tensor;
 * - lookup tables filled from a text file (TextVectorization, StringLookup) in what only the init
 *   op reaches, when the file name traces (through identities, function arguments and the
 *   variable TF2 keeps it in) to one of `asset_file_def`'s tensors, naming a file of the upload's
 *   own `assets/`. Anything harder to trace is refused: safe by default.
 *
 * What runs, and so which rules apply where, is what TensorFlow's loader and this server run: the
 * restore op and the init op at load (with the asset tensors fed), and the tensors of signatures.
 * Top-graph nodes none of them reach never run; functions no node calls count as reachable by anyone.
 *
 * Pure: no TensorFlow, no file access. Its cost is one pass over the bytes (saved-model-proto.ts)
 * and a walk over nodes and calls, linear in the file's size.
 */
import { HttpError, badRequest, type ErrorDetail } from '../http/errors';
import { type FunctionDef, type MetaGraph, type NodeDef, parseSavedModel } from './saved-model-proto';
import { ALLOWED_OPS, RESTORE_OPS, SAVER_OPS, TABLE_FROM_FILE_OPS, refusalReason } from './saved-model-ops';
import { MAX_DETAILS, nodePointer, refuseUnknownOps, type Violation } from './saved-model-unknown-ops';

export interface PolicyReport {
  /** How many nodes use each op, over the top graph and every function of the meta graphs checked. */
  ops: Record<string, number>;
  /** Functions in the libraries checked. */
  functions: number;
  /** Nodes checked (top graph and functions). */
  nodes: number;
  /** The tags of the meta graphs checked. */
  metaGraphs: string[][];
  /** True when the allowlist was skipped (`trusted`: `modelport serve --trust-models`); the file was still parsed. */
  trusted: boolean;
}

export interface SavedModelPolicyOptions {
  /** The tags the model is loaded with, e.g. ['serve']: the meta graphs with exactly these are checked (all when empty). */
  tags: string[];
  /** Relative paths under assets/ present in the upload (e.g. 'vocabulary.txt'). */
  assetFiles: string[];
  /** Skip the allowlist (the server's `trustUploadedModels`); the protobuf is still parsed and bounded. */
  trusted?: boolean;
}

/** Saver ops that only compute a file name: named after the ops that use it. */
const FORMATS_PATHS = new Set(['ShardedFilename', 'ShardedFilespec']);
/** Steps a file name may be traced through (identities, calls, variables) before the trace gives up. */
const MAX_TRACE_STEPS = 1000;

const POLICY_HINT =
  "modelport refuses models that touch files, the network or processes (see 'Model policy' in the server's README; " +
  '`modelport serve --trust-models` skips this check for models you trust)';

/**
 * Throws 400 `invalid_model` when saved_model.pb cannot be read, 400 `unsupported_op` when a node
 * uses an op this TensorFlow does not have (trusted or not: it could not load), 400 `forbidden_op`
 * when a node of a meta graph with `options.tags` breaks the policy; returns what it counted otherwise.
 */
export function checkSavedModelPolicy(savedModelPb: Uint8Array, options: SavedModelPolicyOptions): PolicyReport {
  const metaGraphs = parseSavedModel(savedModelPb);
  if (!metaGraphs.length)
    throw badRequest('saved_model.pb holds no meta graph', [{ path: '/saved_model.pb', message: 'has no meta_graphs' }], 'invalid_model');
  const chosen = options.tags.length ? metaGraphs.filter((m) => sameTags(m.tags, options.tags)) : metaGraphs;
  if (!chosen.length) {
    const found = metaGraphs.map((m) => `[${m.tags.join(', ')}]`).join(', ');
    throw badRequest(
      `saved_model.pb has no meta graph tagged [${options.tags.join(', ')}]; it has ${found}`,
      [{ path: '/saved_model.pb', message: `no meta graph tagged [${options.tags.join(', ')}]` }],
      'invalid_model',
    );
  }
  const report: PolicyReport = {
    ops: {},
    functions: 0,
    nodes: 0,
    metaGraphs: chosen.map((m) => m.tags),
    trusted: options.trusted === true,
  };
  for (const graph of chosen) {
    report.functions += graph.functions.length;
    for (const node of [...graph.nodes, ...graph.functions.flatMap((f) => f.nodes)]) {
      report.nodes++;
      report.ops[node.op] = (report.ops[node.op] ?? 0) + 1;
    }
  }
  refuseUnknownOps(chosen);
  if (options.trusted) return report;
  const violations = chosen.flatMap((graph) => new MetaGraphCheck(graph, options.assetFiles).violations());
  // Name the op that does the harm first: SaveV2 rather than the ShardedFilename that formats its path.
  violations.sort((a, b) => Number(FORMATS_PATHS.has(a.op)) - Number(FORMATS_PATHS.has(b.op)));
  if (violations.length) throw forbidden(violations);
  return report;
}

function sameTags(a: string[], b: string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((t) => right.has(t));
}

function forbidden(violations: Violation[]): HttpError {
  const describe = (v: Violation) =>
    `op '${v.op}' (node '${v.node}', ${v.fn === undefined ? 'in the top graph' : `function '${v.fn}'`}) ${v.reason}`;
  const first = violations[0]!;
  const more = violations.length > 1 ? ` (${violations.length - 1} more refused node${violations.length > 2 ? 's' : ''} in details)` : '';
  const details: ErrorDetail[] = violations.slice(0, MAX_DETAILS).map((v) => ({
    path: nodePointer(v),
    message: describe(v),
  }));
  return new HttpError(400, 'forbidden_op', `${describe(first)}; ${POLICY_HINT}${more}`, details);
}

/** Who may run a node: the saver (at load, restore only), the init op (at load), or anything else (signatures, other nodes). */
type Context = 'saver' | 'init' | 'other';
const CONTEXTS: Context[] = ['saver', 'init', 'other'];
const CONTEXT_BITS: Record<Context, number> = { saver: 1, init: 2, other: 4 };

/** How a function was first reached in a context, to name the path in a refusal. */
type Via = { from: 'graph'; node: string } | { from: 'function'; fn: string; node: string } | { from: 'uncalled' };

/** A place a tensor name is read in: the top graph, or a function's body. */
type Scope = { fn?: FunctionDef };

/** A call site of a function: the node and where it sits. */
interface CallSite {
  node: NodeDef;
  scope: Scope;
}

const nodeOf = (input: string) => {
  const name = input.startsWith('^') ? input.slice(1) : input;
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(0, colon);
};
const dataInputs = (node: NodeDef) => node.inputs.filter((i) => !i.startsWith('^'));
/** `node` and `node:0` are the same graph tensor. */
const graphTensor = (name: string) => (name.includes(':') ? name : `${name}:0`);
const PLAIN_CALLS = new Set(['StatefulPartitionedCall', 'PartitionedCall']);
const PASS_THROUGH = new Set(['Identity', 'Snapshot']);

class MetaGraphCheck {
  private readonly nodes = new Map<string, NodeDef>();
  private readonly functions = new Map<string, FunctionDef>();
  /** Contexts of each top-graph node (CONTEXT_BITS), and for 'other' the root that reaches it. */
  private readonly graphContexts = new Map<string, number>();
  private readonly otherRoot = new Map<string, string>();
  /** The signature that names each signature tensor's node. */
  private readonly rootSignature = new Map<string, string>();
  private readonly functionContexts = new Map<string, Map<Context, Via>>();
  private readonly callSites = new Map<string, CallSite[]>();

  constructor(
    private readonly graph: MetaGraph,
    private readonly assetFiles: string[],
  ) {
    for (const node of graph.nodes) this.nodes.set(node.name, node);
    for (const fn of graph.functions) if (!this.functions.has(fn.name)) this.functions.set(fn.name, fn);
    this.findCallSites();
    this.markGraphContexts();
    this.markFunctionContexts();
  }

  violations(): Violation[] {
    const found: Violation[] = [];
    for (const node of this.graph.nodes) {
      if (this.allowedAnywhere(node)) continue;
      const bits = this.graphContexts.get(node.name) ?? 0;
      const reason = this.refuse(node, {}, new Set(CONTEXTS.filter((c) => bits & CONTEXT_BITS[c])));
      if (reason) found.push({ op: node.op, node: node.name, reason });
    }
    for (const fn of this.functions.values()) {
      const contexts = new Set(this.functionContexts.get(fn.name)?.keys());
      for (const node of fn.nodes) {
        if (this.allowedAnywhere(node)) continue;
        const reason = this.refuse(node, { fn }, contexts);
        if (reason) found.push({ op: node.op, node: node.name, fn: fn.name, reason });
      }
    }
    return found;
  }

  /** A call of a library function, or an op of the allowlist. */
  private allowedAnywhere(node: NodeDef): boolean {
    return this.functions.has(node.op) || ALLOWED_OPS.has(node.op);
  }

  /** Why a node whose op is not allowed everywhere is refused in these contexts, or undefined when it is allowed here. */
  private refuse(node: NodeDef, scope: Scope, contexts: Set<Context>): string | undefined {
    if (SAVER_OPS.has(node.op)) {
      const outside = this.outside(scope, node, contexts, 'saver');
      if (outside) return `saves or restores checkpoints, which only the SavedModel's saver may do; ${outside}`;
      if (RESTORE_OPS.has(node.op)) {
        const filename = this.graph.saver?.filenameTensor ?? '';
        const problem = this.trace(scope, dataInputs(node)[0], (tensor) => (tensor === graphTensor(filename) ? 'ok' : undefined));
        if (problem) return `restores a checkpoint from a path that is not the saver's filename tensor ('${filename}'): ${problem}`;
      }
      return undefined;
    }
    if (TABLE_FROM_FILE_OPS.has(node.op)) {
      const outside = this.outside(scope, node, contexts, 'init');
      if (outside) return `fills a lookup table from a file, which only the init op may do with a file of the model's assets/; ${outside}`;
      const problem = this.trace(scope, dataInputs(node)[1], (tensor) => this.assetCheck(tensor));
      if (problem) return `fills a lookup table from a file that is not one of the model's own assets/: ${problem}`;
      return undefined;
    }
    return refusalReason(node.op);
  }

  /** Why a node that only `allowed` may run is reached from elsewhere, or undefined. */
  private outside(scope: Scope, node: NodeDef, contexts: Set<Context>, allowed: Context): string | undefined {
    if (!contexts.size) return `nothing reaches it from ${allowed === 'saver' ? "the saver's save tensor or restore op" : 'the init op'}`;
    const others = [...contexts].filter((c) => c !== allowed);
    if (!others.length) return undefined;
    const context = others.includes('other') ? 'other' : others[0]!;
    if (context === 'saver') return "the saver's save or restore function reaches it";
    if (context === 'init') return 'the init op, which runs at load, reaches it';
    if (!scope.fn) {
      const root = this.otherRoot.get(node.name)!;
      return `signature '${this.rootSignature.get(root)}' reaches it through node '${root}'`;
    }
    return `it is reachable from ${this.path(scope.fn.name, 'other')}`;
  }

  /** The chain of calls that first reached a function in a context, e.g. "node 'a' → function 'f' → node 'b' → function 'g'". */
  private path(fn: string, context: Context): string {
    const steps: string[] = [];
    let current: string | undefined = fn;
    for (let guard = 0; current !== undefined && guard <= this.functions.size; guard++) {
      steps.unshift(`function '${current}'`);
      const via: Via | undefined = this.functionContexts.get(current)?.get(context);
      if (!via || via.from === 'uncalled') {
        steps.unshift('no node (it is in the function library, where any caller can find it)');
        break;
      }
      steps.unshift(via.from === 'graph' ? `node '${via.node}' of the top graph` : `node '${via.node}'`);
      current = via.from === 'function' ? via.fn : undefined;
    }
    return steps.join(' → ');
  }

  private findCallSites(): void {
    const scan = (node: NodeDef, scope: Scope) => {
      const callees = new Set(node.calls);
      if (this.functions.has(node.op)) callees.add(node.op);
      for (const callee of callees) {
        const sites = this.callSites.get(callee) ?? [];
        sites.push({ node, scope });
        this.callSites.set(callee, sites);
      }
    };
    for (const node of this.graph.nodes) scan(node, {});
    for (const fn of this.functions.values()) for (const node of fn.nodes) scan(node, { fn });
  }

  /**
   * A top-graph node runs for the saver when it feeds the save tensor or restore op, for the init
   * op when it feeds it, and for clients when it feeds a tensor of a signature: TensorFlow's
   * loader runs the restore op and the init op, and the server fetches only signature tensors. A
   * node none of them reaches never runs (TF1 exports keep stray `init_all_tables` ops).
   */
  private markGraphContexts(): void {
    const saverRoots = [this.graph.saver?.saveTensor, this.graph.saver?.restoreOp].filter((n): n is string => !!n).map(nodeOf);
    const saver = this.ancestors(saverRoots);
    const init = this.ancestors(initOp(this.graph).map(nodeOf));
    const signatureRoots: string[] = [];
    for (const [key, signature] of this.graph.signatures) {
      if (key === INIT_SIGNATURE) continue;
      for (const tensor of [...signature.inputs, ...signature.outputs]) {
        signatureRoots.push(nodeOf(tensor));
        if (!this.rootSignature.has(nodeOf(tensor))) this.rootSignature.set(nodeOf(tensor), key);
      }
    }
    const other = this.ancestors(signatureRoots);
    for (const [context, reached] of [
      ['saver', saver],
      ['init', init],
      ['other', other],
    ] as const) {
      for (const name of reached.keys()) this.graphContexts.set(name, (this.graphContexts.get(name) ?? 0) | CONTEXT_BITS[context]);
    }
    for (const [name, root] of other) this.otherRoot.set(name, root);
  }

  /** Every node the roots need (data and control inputs), each with the root that first reached it. */
  private ancestors(roots: string[]): Map<string, string> {
    const reached = new Map<string, string>();
    const queue: string[] = [];
    for (const root of roots)
      if (this.nodes.has(root) && !reached.has(root)) {
        reached.set(root, root);
        queue.push(root);
      }
    for (let i = 0; i < queue.length; i++) {
      const name = queue[i]!;
      for (const input of this.nodes.get(name)?.inputs ?? []) {
        const parent = nodeOf(input);
        if (this.nodes.has(parent) && !reached.has(parent)) {
          reached.set(parent, reached.get(name)!);
          queue.push(parent);
        }
      }
    }
    return reached;
  }

  /** Functions take the contexts of their callers; a function no node calls counts as reachable by anyone. */
  private markFunctionContexts(): void {
    const queue: [string, Context][] = [];
    const reach = (fn: string, context: Context, via: Via) => {
      if (!this.functions.has(fn)) return;
      const contexts = this.functionContexts.get(fn) ?? new Map<Context, Via>();
      if (contexts.has(context)) return;
      contexts.set(context, via);
      this.functionContexts.set(fn, contexts);
      queue.push([fn, context]);
    };
    const callees = (node: NodeDef) => (this.functions.has(node.op) ? [...node.calls, node.op] : node.calls);
    for (const node of this.graph.nodes)
      for (const callee of callees(node))
        for (const context of CONTEXTS)
          if ((this.graphContexts.get(node.name) ?? 0) & CONTEXT_BITS[context]) reach(callee, context, { from: 'graph', node: node.name });
    const drain = () => {
      for (let i = 0; i < queue.length; i++) {
        const [name, context] = queue[i]!;
        for (const node of this.functions.get(name)!.nodes)
          for (const callee of callees(node)) reach(callee, context, { from: 'function', fn: name, node: node.name });
      }
      queue.length = 0;
    };
    drain();
    for (const fn of this.functions.keys()) if (!this.functionContexts.has(fn)) reach(fn, 'other', { from: 'uncalled' });
    drain();
  }

  /** The tensors the loader feeds with asset paths: `asset_file_def`, else TF1's `saved_model_assets` collection. */
  private get assets(): { tensor: string; filename: string }[] {
    return this.graph.assets.length ? this.graph.assets : this.graph.collectionAssets;
  }

  /** 'ok' when a graph tensor is an asset of the upload; the problem otherwise; undefined when it is not an asset tensor. */
  private assetCheck(tensor: string): 'ok' | string | undefined {
    // Every entry feeding this tensor: the loader feeds them all, and which one wins is not ours to guess.
    const assets = this.assets.filter((a) => graphTensor(a.tensor) === tensor);
    if (!assets.length) return undefined;
    for (const asset of assets) {
      if (!safeRelativePath(asset.filename))
        return `asset_file_def names '${asset.filename}', which is not a plain relative path under assets/`;
      if (!this.assetFiles.includes(asset.filename))
        return `asset_file_def names '${asset.filename}', which is not in the upload's assets/`;
    }
    return 'ok';
  }

  /**
   * Follows a tensor back to where it comes from: through identities, from a function's argument
   * to every caller's input, and from a read of a variable to what is assigned to it. `accept`
   * says whether a top-graph tensor is a good source ('ok'), a bad one (why), or neither
   * (undefined: keep tracing). Returns undefined when every path ends at an accepted source.
   */
  private trace(scope: Scope, input: string | undefined, accept: (graphTensor: string) => 'ok' | string | undefined): string | undefined {
    let steps = 0;
    const seen = new Set<string>();
    const visit = (at: Scope, ref: string | undefined): string | undefined => {
      if (ref === undefined) return 'the node has no such input';
      if (++steps > MAX_TRACE_STEPS) return `it passes through more than ${MAX_TRACE_STEPS} steps, more than modelport follows`;
      const key = `${at.fn?.name ?? ''}\u0000${ref}`;
      if (seen.has(key)) return undefined;
      seen.add(key);
      return at.fn ? visitInFunction(at.fn, ref) : visitInGraph(ref);
    };
    const visitInFunction = (fn: FunctionDef, ref: string): string | undefined => {
      if (!ref.includes(':')) {
        const index = fn.inputArgs.findIndex((a) => a.name === ref);
        if (index < 0) return `function '${fn.name}' has no argument or node '${ref}'`;
        if (fn.inputArgs.some((a) => !a.single)) return `function '${fn.name}' takes list arguments, which modelport does not trace`;
        const sites = this.callSites.get(fn.name) ?? [];
        if (!sites.length) return `it is argument '${ref}' of function '${fn.name}', which no node calls`;
        for (const site of sites) {
          if (!PLAIN_CALLS.has(site.node.op) && site.node.op !== fn.name)
            return `it is argument '${ref}' of function '${fn.name}', called by '${site.node.op}' node '${site.node.name}', which modelport does not trace`;
          const problem = visit(site.scope, dataInputs(site.node)[index]);
          if (problem) return problem;
        }
        return undefined;
      }
      const node = fn.nodes.find((n) => n.name === nodeOf(ref));
      if (!node) return `function '${fn.name}' has no node '${nodeOf(ref)}'`;
      if (PASS_THROUGH.has(node.op)) return visit({ fn }, dataInputs(node)[0]);
      return `it comes from op '${node.op}' (node '${node.name}', function '${fn.name}')`;
    };
    const visitInGraph = (ref: string): string | undefined => {
      const tensor = graphTensor(ref);
      const verdict = accept(tensor);
      if (verdict === 'ok') return undefined;
      if (verdict !== undefined) return verdict;
      const node = this.nodes.get(nodeOf(ref));
      if (!node) return `the top graph has no node '${nodeOf(ref)}'`;
      if (PASS_THROUGH.has(node.op)) return visit({}, dataInputs(node)[0]);
      if (node.op === 'ReadVariableOp') return this.traceVariable(node, (value) => visit({}, value));
      return `it comes from op '${node.op}' (node '${node.name}' of the top graph)`;
    };
    return visit(scope, input);
  }

  /**
   * What a top-graph variable read returns: every value assigned to the variable. The variable
   * must be a VarHandleOp no other node or function shares, used only by reads and assignments.
   */
  private traceVariable(read: NodeDef, traceValue: (value: string | undefined) => string | undefined): string | undefined {
    const variable = this.nodes.get(nodeOf(dataInputs(read)[0] ?? ''));
    if (variable?.op !== 'VarHandleOp') return `node '${read.name}' reads a variable that is not a VarHandleOp of the top graph`;
    const shared = variable.sharedName || variable.name;
    const twins = [...this.graph.nodes, ...this.graph.functions.flatMap((f) => f.nodes)].filter(
      (n) => n !== variable && n.op === 'VarHandleOp' && (n.sharedName || n.name) === shared,
    );
    if (twins.length) return `variable '${variable.name}' shares its name with node '${twins[0]!.name}'`;
    let assigned = 0;
    for (const user of this.graph.nodes) {
      const position = dataInputs(user).findIndex((i) => nodeOf(i) === variable.name);
      if (position < 0) continue;
      if (user.op === 'ReadVariableOp' || user.op === 'VarIsInitializedOp') continue;
      if (user.op === 'AssignVariableOp' && position === 0) {
        assigned++;
        const problem = traceValue(dataInputs(user)[1]);
        if (problem) return problem;
        continue;
      }
      return `variable '${variable.name}' is also used by '${user.op}' node '${user.name}'`;
    }
    return assigned ? undefined : `variable '${variable.name}' is never assigned in the top graph`;
  }
}

const INIT_SIGNATURE = '__saved_model_init_op';

/**
 * The one init op TensorFlow's loader runs (cc/saved_model/loader_util.cc GetInitOp): the init
 * signature's output, else collection `saved_model_main_op`, else `legacy_init_op`.
 */
function initOp(graph: MetaGraph): string[] {
  const signature = graph.signatures.get(INIT_SIGNATURE);
  if (signature) return signature.outputs.slice(0, 1);
  return graph.nodeLists.get('saved_model_main_op') ?? graph.nodeLists.get('legacy_init_op') ?? [];
}

/** `vocabulary.txt`, `sub/dir/file`: no absolute path, no `..`, no backslashes, no empty or `.` segments. */
function safeRelativePath(name: string): boolean {
  if (!name || name.includes('\\') || name.includes('\0') || name.startsWith('/')) return false;
  return name.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}
