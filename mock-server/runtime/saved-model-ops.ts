/**
 * Which TensorFlow ops an uploaded SavedModel may use (saved-model-policy.ts applies the lists).
 *
 * Where the allowlist comes from, and why it is this list:
 * 1. every graph op TF.js runs (`@tensorflow/tfjs-converter` 4.22, dist/operations/op_list/*.js),
 *    minus `Print` (writes to the server's log), the TF-DF ops (`SimpleML*`, one loads a model
 *    from a path) and the names TensorFlow itself does not have (`Prelu`, `Conv1D`, ...);
 * 2. every op of the SavedModels real users make, read from the test fixtures Python TensorFlow 2.21
 *    and Keras 3 exported (test/fixtures/savedmodel: tiny-classifier and policy/, made by
 *    make_policy_fixtures.py: `model.export`, `ExportArchive`, TextVectorization, StringLookup with
 *    a vocabulary file, a BatchNorm CNN), and of the graphs layers-to-graph.ts writes for TF.js
 *    layers models (the bundled models);
 * 3. the neighbours of those that compute on tensors the same way (more math, the stateless
 *    random ops, strings that never name a file, ragged and sparse tensors, lookup tables filled
 *    from tensors, resource variables, functional control flow).
 * Every name was checked against `tf.raw_ops` of TensorFlow 2.21 (`_FusedMatMul` and `_FusedConv2D`
 * are TensorFlow's own optimiser ops, registered but not in `raw_ops`). Nothing here reads or writes a
 * file, opens a socket, starts a process or runs Python; ops that do are refused, and so is every
 * op not listed (a new op is refused until someone reads what it does and adds it).
 */

export const ALLOWED_OPS: ReadonlySet<string> = new Set([
  // Graph plumbing, function calls and control flow (functional and TF1-style)
  ...['Const', 'Placeholder', 'PlaceholderWithDefault', 'Identity', 'IdentityN', 'Snapshot', 'NoOp', 'StopGradient', 'PreventGradient'],
  ...['StatefulPartitionedCall', 'PartitionedCall', 'If', 'StatelessIf', 'While', 'StatelessWhile', 'Case', 'StatelessCase'],
  ...['Switch', 'Merge', 'Enter', 'Exit', 'NextIteration', 'LoopCond', 'ControlTrigger'],
  ...['Assert', 'CheckNumerics', 'CheckNumericsV2', 'EnsureShape', 'FakeQuantWithMinMaxVars', 'FakeQuantWithMinMaxArgs'],
  // Shapes, casts, slicing and joining
  ...['Shape', 'ShapeN', 'Size', 'Rank', 'Cast', 'Bitcast', 'Reshape', 'ExpandDims', 'Squeeze', 'Transpose', 'ConjugateTranspose'],
  ...['Pack', 'Unpack', 'Concat', 'ConcatV2', 'Split', 'SplitV', 'Slice', 'StridedSlice', 'Gather', 'GatherV2', 'GatherNd'],
  ...[
    'Tile',
    'Pad',
    'PadV2',
    'MirrorPad',
    'Reverse',
    'ReverseV2',
    'ReverseSequence',
    'BroadcastTo',
    'BroadcastArgs',
    'BroadcastGradientArgs',
  ],
  ...['SpaceToBatchND', 'BatchToSpaceND', 'SpaceToDepth', 'DepthToSpace', 'ScatterNd', 'TensorScatterUpdate', 'TensorScatterAdd'],
  ...['TensorScatterSub', 'TensorScatterMax', 'TensorScatterMin', 'TensorStridedSliceUpdate', 'InvertPermutation', 'ListDiff'],
  ...['Fill', 'ZerosLike', 'OnesLike', 'Range', 'LinSpace', 'OneHot', 'Where', 'Select', 'SelectV2', 'Unique', 'UniqueV2'],
  ...['UniqueWithCounts', 'UniqueWithCountsV2', 'TopKV2', 'LowerBound', 'UpperBound', 'Bucketize', 'SparseToDense', 'MatrixBandPart'],
  ...['MatrixDiag', 'MatrixDiagV2', 'MatrixDiagV3', 'MatrixDiagPart', 'MatrixDiagPartV2', 'MatrixDiagPartV3', 'MatrixSetDiag'],
  ...['MatrixSetDiagV2', 'MatrixSetDiagV3', 'DiagPart', 'Diag'],
  // Element-wise math and comparisons
  ...['Add', 'AddV2', 'AddN', 'Sub', 'Mul', 'MulNoNan', 'Div', 'DivNoNan', 'RealDiv', 'FloorDiv', 'FloorMod', 'TruncateDiv', 'TruncateMod'],
  ...['Mod', 'Pow', 'SquaredDifference', 'Maximum', 'Minimum', 'Abs', 'Neg', 'Sign', 'Square', 'Sqrt', 'Rsqrt', 'Reciprocal', 'Inv'],
  ...['Exp', 'Expm1', 'Log', 'Log1p', 'Xlogy', 'Xlog1py', 'Xdivy', 'Floor', 'Ceil', 'Round', 'Rint', 'ClipByValue', 'Erf', 'Erfc'],
  ...['Erfinv', 'Ndtri', 'Lgamma', 'Digamma', 'Igamma', 'Igammac', 'Betainc', 'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Atan2'],
  ...['Sinh', 'Cosh', 'Tanh', 'Asinh', 'Acosh', 'Atanh', 'IsNan', 'IsInf', 'IsFinite', 'Complex', 'ComplexAbs', 'Real', 'Imag'],
  ...['Conj', 'Angle', 'Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'ApproximateEqual'],
  ...['LogicalAnd', 'LogicalOr', 'LogicalNot', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'Invert', 'LeftShift', 'RightShift'],
  // Reductions, scans and segments
  ...['Sum', 'Mean', 'Max', 'Min', 'Prod', 'All', 'Any', 'ArgMax', 'ArgMin', 'EuclideanNorm', 'Cumsum', 'Cumprod', 'CumulativeLogsumexp'],
  ...['Bincount', 'DenseBincount', 'SegmentSum', 'SegmentMean', 'SegmentMax', 'SegmentMin', 'SegmentProd', 'UnsortedSegmentSum'],
  ...['UnsortedSegmentMax', 'UnsortedSegmentMin', 'UnsortedSegmentProd', 'SparseSegmentSum', 'SparseSegmentMean', 'SparseSegmentSqrtN'],
  ...['SparseSegmentSumWithNumSegments', 'SparseSegmentMeanWithNumSegments', 'SparseSegmentSqrtNWithNumSegments'],
  // Linear algebra, neural networks, images (on tensors, no decoding) and signal
  ...['MatMul', '_FusedMatMul', 'BatchMatMul', 'BatchMatMulV2', 'BatchMatMulV3', 'Einsum', 'Cross', 'MatrixInverse', 'MatrixDeterminant'],
  ...['MatrixSolve', 'MatrixTriangularSolve', 'Cholesky', 'Qr', 'Svd', 'SelfAdjointEigV2', 'BiasAdd', 'BiasAddV1'],
  ...['Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Softplus', 'Softsign', 'Sigmoid', 'Softmax', 'LogSoftmax'],
  ...['Conv2D', 'Conv3D', '_FusedConv2D', 'Conv2DBackpropInput', 'Conv3DBackpropInputV2', 'DepthwiseConv2dNative'],
  ...['Dilation2D', 'AvgPool', 'AvgPool3D', 'MaxPool', 'MaxPoolV2', 'MaxPool3D', 'MaxPoolWithArgmax'],
  ...['FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'BatchNormWithGlobalNormalization', 'LRN', 'L2Loss', 'InTopKV2'],
  ...['ResizeBilinear', 'ResizeNearestNeighbor', 'ResizeBicubic', 'ResizeArea', 'ScaleAndTranslate', 'CropAndResize'],
  ...['ImageProjectiveTransformV2', 'ImageProjectiveTransformV3', 'AdjustContrastv2', 'AdjustHue', 'AdjustSaturation', 'RGBToHSV'],
  ...[
    'HSVToRGB',
    'NonMaxSuppressionV2',
    'NonMaxSuppressionV3',
    'NonMaxSuppressionV4',
    'NonMaxSuppressionV5',
    'FFT',
    'IFFT',
    'RFFT',
    'IRFFT',
  ],
  // Random numbers (seeded by attributes or inputs)
  ...['RandomUniform', 'RandomUniformInt', 'RandomStandardNormal', 'TruncatedNormal', 'Multinomial', 'RandomShuffle'],
  ...['StatelessRandomUniform', 'StatelessRandomUniformV2', 'StatelessRandomUniformInt', 'StatelessRandomUniformIntV2'],
  ...['StatelessRandomUniformFullInt', 'StatelessRandomUniformFullIntV2', 'StatelessRandomNormal', 'StatelessRandomNormalV2'],
  ...['StatelessTruncatedNormal', 'StatelessTruncatedNormalV2', 'StatelessMultinomial', 'StatelessRandomGetKeyCounter'],
  ...['StatelessRandomGetAlg', 'StatelessRandomGetKeyCounterAlg', 'StatelessShuffle'],
  // Resource variables
  ...['VarHandleOp', 'ReadVariableOp', 'AssignVariableOp', 'AssignAddVariableOp', 'AssignSubVariableOp', 'VarIsInitializedOp'],
  ...['VariableShape', 'DestroyResourceOp', 'DisableCopyOnRead', 'ResourceGather', 'ResourceGatherNd', 'ResourceScatterUpdate'],
  ...['ResourceScatterAdd', 'ResourceScatterNdUpdate', 'ResourceScatterNdAdd', 'ResourceStridedSliceAssign'],
  // Lookup tables filled from tensors (from a file: TABLE_FROM_FILE_OPS)
  ...['HashTable', 'HashTableV2', 'MutableHashTableV2', 'MutableHashTableOfTensorsV2', 'MutableDenseHashTableV2', 'AnonymousHashTable'],
  ...['AnonymousMutableHashTable', 'AnonymousMutableHashTableOfTensors', 'AnonymousMutableDenseHashTable', 'InitializeTable'],
  ...['InitializeTableV2', 'LookupTableFind', 'LookupTableFindV2', 'LookupTableImport', 'LookupTableImportV2', 'LookupTableInsertV2'],
  ...['LookupTableRemoveV2', 'LookupTableExportV2', 'LookupTableSize', 'LookupTableSizeV2'],
  // Strings that never name a file
  ...['StringSplit', 'StringSplitV2', 'StringJoin', 'ReduceJoin', 'StringLength', 'StringLower', 'StringUpper', 'StringStrip'],
  ...['Substr', 'StringToNumber', 'AsString', 'StringFormat', 'StringNGrams', 'StringToHashBucket', 'StringToHashBucketFast'],
  ...['StringToHashBucketStrong', 'RegexReplace', 'StaticRegexReplace', 'RegexFullMatch', 'StaticRegexFullMatch', 'UnsortedSegmentJoin'],
  ...['UnicodeDecode', 'UnicodeDecodeWithOffsets', 'UnicodeEncode', 'UnicodeScript', 'UnicodeTranscode', 'EncodeBase64', 'DecodeBase64'],
  ...['DecodeRaw', 'DecodePaddedRaw', 'Fingerprint'],
  // Ragged and sparse tensors, tensor lists and arrays
  ...['RaggedTensorToTensor', 'RaggedTensorToSparse', 'RaggedTensorFromVariant', 'RaggedTensorToVariant', 'RaggedGather', 'RaggedRange'],
  ...['RaggedCross', 'RaggedBincount', 'RaggedFillEmptyRows', 'SparseReshape', 'SparseFillEmptyRows', 'SparseSlice', 'SparseReorder'],
  ...['SparseTensorDenseMatMul', 'SparseTensorDenseAdd', 'SparseAdd', 'SparseConcat', 'SparseReduceSum', 'SparseReduceMax'],
  ...['SparseSoftmax', 'SparseCross', 'SparseCrossV2', 'SparseCrossHashed', 'SparseBincount', 'SparseToSparseSetOperation'],
  ...['DenseToDenseSetOperation', 'DenseToSparseSetOperation', 'EmptyTensorList', 'TensorListReserve', 'TensorListFromTensor'],
  ...['TensorListStack', 'TensorListGetItem', 'TensorListSetItem', 'TensorListPushBack', 'TensorListPopBack', 'TensorListLength'],
  ...['TensorListElementShape', 'TensorListGather', 'TensorListScatter', 'TensorListScatterV2', 'TensorListScatterIntoExistingList'],
  ...['TensorListSplit', 'TensorListConcat', 'TensorListConcatV2', 'TensorListResize', 'TensorArrayV3', 'TensorArrayReadV3'],
  ...['TensorArrayWriteV3', 'TensorArrayGatherV3', 'TensorArrayScatterV3', 'TensorArrayConcatV3', 'TensorArraySplitV3'],
  ...['TensorArraySizeV3', 'TensorArrayCloseV3'],
]);

/**
 * Ops a SavedModel's saver uses to write and read its checkpoint: allowed only in nodes and
 * functions that nothing but the saver (`saver_def`'s save tensor and restore op) reaches.
 */
export const SAVER_OPS: ReadonlySet<string> = new Set(['SaveV2', 'RestoreV2', 'MergeV2Checkpoints', 'ShardedFilename', 'ShardedFilespec']);

/** Saver ops that read the checkpoint: their prefix must be the saver's own filename tensor. */
export const RESTORE_OPS: ReadonlySet<string> = new Set(['RestoreV2']);

/**
 * Lookup tables filled from a text file (TextVectorization, StringLookup, tf.lookup.TextFileInitializer):
 * allowed only in what the init op runs, on a file of the model's own `assets/`.
 */
export const TABLE_FROM_FILE_OPS: ReadonlySet<string> = new Set(['InitializeTableFromTextFileV2', 'InitializeTableFromTextFile']);

/** Why an op is refused, for the ones people ask about; anything else unlisted "is not on the allowlist". */
export function refusalReason(op: string): string {
  if (/^(PyFunc|PyFuncStateless|EagerPyFunc)$/.test(op)) return 'runs Python code in the server process';
  if (op === 'ImmutableConst') return 'maps a file into memory';
  if (
    /^(ReadFile|WriteFile|MatchingFiles|Save|SaveV2|SaveSlices|Restore|RestoreV2|RestoreSlice|MergeV2Checkpoints|ShardedFilename|ShardedFilespec)$/.test(
      op,
    ) ||
    /^(InitializeTableFromTextFile|LoadAndRemapMatrix|GenerateVocabRemapping|FixedUnigramCandidateSampler|DecodeProto)/.test(op) ||
    /(Summary|SummaryWriter|SummaryFileWriter)/.test(op) ||
    /^SimpleML/.test(op)
  )
    return 'reads or writes files';
  if (/^(Print|PrintV2|Debug)/.test(op)) return "writes to the server's logs or to files";
  if (/^(_Send|_Recv|_HostSend|_HostRecv|RemoteCall|Rpc|TryRpc|Collective|NcclAllReduce)/.test(op))
    return 'talks to other processes or over the network';
  if (/(Reader|Queue|Dataset|Iterator|Barrier|Stage|Accumulator)/.test(op))
    return 'runs an input pipeline, reader or queue, which can read files and hold unbounded state';
  if (/^Decode(Jpeg|Png|Gif|Bmp|Image|AndCropJpeg|Webp|WebP|Jxl|Wav|Compressed|CSV)$/.test(op))
    return "decodes images or files of any size (their memory is not bounded by the request's size)";
  return 'is not on the allowlist of ops that compute on tensors';
}
