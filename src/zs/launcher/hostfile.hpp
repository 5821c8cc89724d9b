// DeepSpeed's hostfile and its resource filters: which hosts run ranks, and which slots (GPU ids,
// or CPU rank slots) on each.
//
//   # hostfile: one host per line
//   node1 slots=8
//   node2 slots=8   # comments may follow
//
//   --include "node1:0,2@node2"   only slots 0 and 2 of node1, and all of node2
//   --exclude "node2:7@node3"     everything but slot 7 of node2 and all of node3
//   --num_nodes 2 --num_gpus 4    the first two hosts, slots 0-3 of each
#pragma once

#include <string>
#include <vector>

namespace zs::launcher {

struct HostSlots {
  std::string host;
  std::vector<int> slots;   // ascending
};
// In hostfile order: the order ranks are numbered in (node 0 holds ranks 0..k-1, ...).
using Resources = std::vector<HostSlots>;

// Parses a hostfile's text; `path` names it in errors ("hostfile h.txt, line 3: ..."). Throws UsageError.
Resources parse_hostfile(const std::string& text, const std::string& path);
// Reads and parses the file at `path`. Throws UsageError (missing, unreadable, bad line, empty).
Resources read_hostfile(const std::string& path);

// DeepSpeed's NODE_SPEC[@NODE_SPEC...] filters, NODE_SPEC = NAME[:SLOT[,SLOT...]]. `flag` names the
// option in errors. A host or slot that is not in `all` is an error; so are both filters at once.
Resources filter_resources(const Resources& all, const std::string& include, const std::string& exclude);

// --num_nodes N: the first N hosts; --per_node K (from --num_gpus/--num_procs): slots 0..K-1 of each.
// -1 leaves that dimension as it is. Asking for more than there is, is an error.
Resources limit_resources(const Resources& r, int num_nodes, int per_node, const std::string& per_node_flag);

// The whole job's layout on a command line, in the filters' own syntax: "h1:0,1@h2:0,2".
std::string encode_resources(const Resources& r);
Resources decode_resources(const std::string& text);

// Ranks in total, and the first rank of node `node`.
int total_slots(const Resources& r);
int first_rank_of(const Resources& r, int node);

}  // namespace zs::launcher
