// Manual benchmark, not a test (built only on request: --target bench_batcher):
//   bench_batcher OUT.cms SITE.crt SITE.key RECIPIENT.crt LEVEL FILE...
// Seals the files (archive path = the path as given, leading '/' stripped) and prints size, hash,
// and the worst-case bound. Run it under /usr/bin/time -v to see peak RSS.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/batcher/batch_writer.hpp"
#include "daemon/util/fd.hpp"

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: %s OUT.cms SITE.crt SITE.key RECIPIENT.crt LEVEL FILE...\n", argv[0]);
    return 2;
  }
  try {
    using namespace sennen;
    auto keys = batcher::SealingKeys::load(argv[2], argv[3], {argv[4]});
    auto start = std::chrono::steady_clock::now();
    std::uint64_t bound = batcher::BatchWriter::worst_case_fixed_bytes(keys);
    batcher::BatchWriter w(argv[1], keys, std::stoi(argv[5]), std::time(nullptr));
    for (int i = 6; i < argc; ++i) {
      std::filesystem::path p = argv[i];
      std::string name = p.relative_path().string();
      std::uint64_t size = std::filesystem::file_size(p);
      util::Fd fd = util::open_for_read(p);
      w.add_stream(name, size, [&](std::span<std::byte> buf) { return util::read_some(fd, buf, p); });
      bound += batcher::BatchWriter::worst_case_entry_bytes(name, size);
    }
    batcher::SealedFile out = w.finish();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("sealed %llu bytes in %.2f s, bound %llu, sha256 %s\n", static_cast<unsigned long long>(out.size), secs,
                static_cast<unsigned long long>(bound), out.sha256.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
