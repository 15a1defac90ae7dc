-- Complaints filed at a triage unit because their sender did not know the ward (an Open311
-- request with only coordinates or an address, or any `complaint.received` with
-- `needs_routing`). They wait in the routing queue until a `complaint.routed` or
-- `complaint.assigned` event names their ward, and then move there with their figures.
ALTER TABLE items ADD COLUMN needs_routing BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX items_needing_routing ON items (received_at) WHERE needs_routing;
