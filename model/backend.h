// model/backend.h: which machine this translation unit is built for.
//
// Every kernel-shaped source in the tree is compiled twice (see
// build_defs.bzl): natively, and for the simulator with KMODEL_SIM=1. The two
// builds put their symbols in different inline namespaces, kmodel::native and
// kmodel::sim, so a binary may link both without ODR clashes, while code
// inside either build just writes `kmodel::llist_add`.
#ifndef KMODEL_MODEL_BACKEND_H_
#define KMODEL_MODEL_BACKEND_H_

#if defined(KMODEL_SIM) && KMODEL_SIM
#define KMODEL_IS_SIM 1
#define KMODEL_BACKEND sim
#else
#define KMODEL_IS_SIM 0
#define KMODEL_BACKEND native
#endif

#define KMODEL_NAMESPACE_BEGIN \
  namespace kmodel {           \
  inline namespace KMODEL_BACKEND {
#define KMODEL_NAMESPACE_END \
  }                          \
  }

#if defined(__SANITIZE_ADDRESS__)
#define KMODEL_ASAN 1
#else
#define KMODEL_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define KMODEL_TSAN 1
#else
#define KMODEL_TSAN 0
#endif

#endif  // KMODEL_MODEL_BACKEND_H_
