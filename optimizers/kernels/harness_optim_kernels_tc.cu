// The fused-kernel library with FORGE's tensor-core tile step (hk_forge_tc, forge_tc.cuh): built instead of
// harness_optim_kernels.cu when HARNESS_FORGE_TENSOR_CORES=1 (DeviceSession). Same source, one define.
#define HK_FORGE_TC 1
#include "harness_optim_kernels.cu"
