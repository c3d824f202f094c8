// The devices' names (fmav/device.h), in fmav_io with no LibTorch: results files spell them
// too, and their parsers are fuzzed without it.

#include "fmav/device.h"
#include "fmav/error.h"

namespace fmav {

const char* to_string(Device device) {
  switch (device) {
    case Device::cpu: return "cpu";
    case Device::cuda: return "cuda";
    case Device::automatic: return "auto";
  }
  return "?";
}

Device parse_device(const std::string& name) {
  for (Device d : {Device::cpu, Device::cuda, Device::automatic}) {
    if (name == to_string(d)) return d;
  }
  throw Error("device must be cpu, cuda or auto, got '" + name + "'");
}

}  // namespace fmav
