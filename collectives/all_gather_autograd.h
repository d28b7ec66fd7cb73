// All-gather with a backward: each rank gets every rank's rows (for global negatives), and the gradient
// flowing back to this rank's rows is the SUM over ranks of the gradients they computed for those rows
// (a reduce-scatter), since every rank's loss depends on them.
#pragma once
#include <ATen/Tensor.h>

#include "collectives/communicator.h"

namespace imprint {

// x [n, ...] -> [world * n, ...] in rank order; differentiable.
at::Tensor all_gather_with_grad(const at::Tensor& x, Communicator& comm);

}  // namespace imprint
