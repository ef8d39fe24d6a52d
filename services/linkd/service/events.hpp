#pragma once
// What the link service tells the world (outbound events), as an interface the service owns.
// An event is a job stored in the same transaction as the change it announces (an outbox), so
// it exists if and only if the change does, and survives a crash; how it travels (webhooks
// today) is implemented outside service/ (events/webhooks.hpp), so the business rules know no
// HTTP.

#include "domain/model.hpp"

#include <keel/jobs/job.hpp>

#include <optional>

namespace linkd {

class LinkEvents {
  public:
    virtual ~LinkEvents() = default;
    /// The job announcing that `link` was created (deleted); nullopt: nothing to announce.
    /// Called inside the change's transaction: must not block.
    virtual std::optional<keel::jobs::NewJob> link_created(const Link& link) = 0;
    virtual std::optional<keel::jobs::NewJob> link_deleted(const Link& link) = 0;
};

}  // namespace linkd
