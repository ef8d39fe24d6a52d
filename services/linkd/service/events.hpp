#pragma once
// What the link service tells the world (outbound events), as an interface the service owns.
// The service calls it after a change is stored; how an event travels (webhooks today) is
// implemented outside service/ (events/webhooks.hpp), so the business rules know no HTTP.

#include "domain/model.hpp"

namespace linkd {

class LinkEvents {
  public:
    virtual ~LinkEvents() = default;
    /// Called on the request's loop right after the link is stored; must not block.
    virtual void link_created(const Link& link) = 0;
    virtual void link_deleted(const Link& link) = 0;
};

}  // namespace linkd
