// Runs a fuzz target (linked beside this file) over files and folders given on the command
// line, without libFuzzer: the seed corpus and every kept crashing input replayed by the
// ordinary (and the sanitizer) test build. Prints the count; a finding crashes or aborts.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path root(argv[i]);
    if (!std::filesystem::exists(root)) {
      std::fprintf(stderr, "fuzz_replay: %s does not exist\n", argv[i]);
      return 2;
    }
    if (!std::filesystem::is_directory(root)) {
      files += run_file(root);
      continue;
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (entry.is_regular_file()) files += run_file(entry.path());
    }
  }
  std::printf("fuzz_replay: %d inputs, no finding\n", files);
  return files > 0 ? 0 : 1;  // an empty corpus is a broken test, not a pass
}
