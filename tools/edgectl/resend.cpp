// sennen-edgectl resend --sequence N: a batch lost at the receiver (a gap sennen-restore reports)
// is sent again from the hospital's export trees.
//
// The content of a delivered batch's records has left the spool; what it held has not
// (spool_delivered_records). Each of its records whose source reads files from a tree is read
// again by the next poll (its polling state is forgotten, as quarantine retry does): it becomes a
// new record that goes through the gate as any other (a patient stopped since stays withheld) and
// leaves in a new batch. Only what is in the tree now can be sent: a file replaced by a newer
// version or cancelled since is not sent again (its newer state went in a later batch), and DICOM
// instances, which were pushed or fetched once, cannot be read again here. The batch's withdrawals
// are queued again as they were (a lost withdrawal would let a restore bring the patient back).
#include <iostream>
#include <map>

#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"
#include "tools/edgectl/reread.hpp"
#include "tools/edgectl/spool_access.hpp"

namespace sennen::edgectl {

int resend(const Common& c, std::int64_t seq) {
  return with_config(c, "resend", [&](const config::Config& cfg) {
    become_spool_owner(cfg.state_dir);
    std::vector<spool::DeliveredRecord> records;
    {
      spool::SpoolReader reader(cfg.state_dir);  // exists, this schema; never created here
      const auto b = reader.batch_with_seq(seq);
      if (!b || b->state != spool::BatchState::delivered) {
        std::cerr << "sennen-edgectl resend: "
                  << (b ? "batch " + b->batch_id + " (sequence " + std::to_string(seq) + ") is " +
                              std::string(spool::to_string(b->state)) +
                              ", not delivered: what it holds is still sent as usual"
                        : "this site sealed no batch with sequence " + std::to_string(seq))
                  << "\n";
        return 2;
      }
      records = reader.delivered_records(seq);
      if (records.empty() && b->record_count > 0) {
        std::cerr << "sennen-edgectl resend: batch " << b->batch_id
                  << " was delivered before this spool kept what delivered batches held (schema 6): "
                     "its records are not known here\n";
        return 2;
      }
    }
    spool::Spool spool(cfg.state_dir);
    std::int64_t queued = 0, gone = 0, withdrawals = 0;
    std::map<std::string, std::int64_t> cannot;  // why -> records
    {
      spool::Spool::Transaction tx(spool);  // BEGIN IMMEDIATE: waits for the daemon's current write
      for (const auto& r : records) {
        if (r.event != "upsert") continue;  // a delete is sent again only as the tree's state now
        if (auto why = cannot_reread(cfg, r.source); !why.empty()) {
          cannot[r.source + ": " + why] += 1;
          continue;
        }
        if (spool.reread_file(r.source, r.path, folder_keys(cfg, r.source, r.path)))
          ++queued;
        else
          ++gone;
      }
      withdrawals = spool.requeue_withdrawals(seq);
      tx.commit();
    }
    if (c.json) {
      nlohmann::json out = {{"sequence", seq},         {"records", records.size()},  {"to_read_again", queued},
                            {"not_in_the_tree", gone}, {"withdrawals", withdrawals}, {"cannot", cannot}};
      print_json(out);
      return cannot.empty() ? 0 : 1;
    }
    std::cout << "batch sequence " << seq << ": " << queued << " of " << records.size()
              << " records will be read again from the tree by the next poll and sent in a new batch";
    if (gone) std::cout << "; " << gone << " are no longer in the source's polling state (replaced or cancelled since)";
    std::cout << "\n";
    if (withdrawals) std::cout << withdrawals << " withdrawals queued again\n";
    for (const auto& [why, n] : cannot) std::cout << "  not re-sent: " << n << " records of " << why << "\n";
    return cannot.empty() ? 0 : 1;
  });
}

}  // namespace sennen::edgectl
