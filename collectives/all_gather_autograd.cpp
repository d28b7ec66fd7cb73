#include "collectives/all_gather_autograd.h"

#include <torch/autograd.h>

namespace imprint {
namespace {

class AllGatherFunction : public torch::autograd::Function<AllGatherFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t comm_ptr) {
    ctx->saved_data["comm"] = comm_ptr;
    return reinterpret_cast<Communicator*>(comm_ptr)->allgather(x.contiguous());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* comm = reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    return {comm->reduce_scatter(grads[0].contiguous(), ReduceOp::Sum), at::Tensor()};
  }
};

}  // namespace

at::Tensor all_gather_with_grad(const at::Tensor& x, Communicator& comm) {
  if (comm.size() == 1) return x;
  return AllGatherFunction::apply(x, reinterpret_cast<int64_t>(&comm));
}

}  // namespace imprint
