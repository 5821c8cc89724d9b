#include "zs/dist/job_store.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace zs {
namespace {

c10::intrusive_ptr<c10d::TCPStore> make_store(const std::string& host, int port, bool server, int workers,
                                              double timeout_s) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = server;
  if (workers > 0) opts.numWorkers = static_cast<std::size_t>(workers);
  opts.waitWorkers = workers > 0;
  opts.timeout = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  return c10::make_intrusive<c10d::TCPStore>(host, opts);
}

std::string first_ipv4_address() {
  ifaddrs* list = nullptr;
  std::string found = "127.0.0.1";
  if (getifaddrs(&list) != 0) return found;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {0};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof(text));
    if (std::string(text).rfind("127.", 0) == 0) continue;
    found = text;
    break;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

JobStore rendezvous_store(const RankInfo& info, double timeout_s) {
  JobStore js;
  js.store = make_store(info.master_addr, info.master_port, info.rank == 0, info.world_size, timeout_s);
  js.address = info.master_addr + ":" + std::to_string(info.master_port);
  return js;
}

JobStore serve_store_on_free_port() {
  auto store = make_store("127.0.0.1", 0, true, 0, 60);
  const char* master = std::getenv("MASTER_ADDR");
  JobStore js;
  js.address = (master && *master ? std::string(master) : first_ipv4_address()) + ":" + std::to_string(store->getPort());
  js.store = store;
  return js;
}

}  // namespace zs
