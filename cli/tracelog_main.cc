// tracelog { stdout | stderr } PROG: dumps a stream of a program of the
// running kernel, as `bpftool prog tracelog` does. See cli/tracelog.h.
#include <string>
#include <vector>

#include "cli/tracelog.h"

int main(int argc, char** argv) {
  return tracelog::tracelog_main(std::vector<std::string>(argv + 1, argv + argc));
}
