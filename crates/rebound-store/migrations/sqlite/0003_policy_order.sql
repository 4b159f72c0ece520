-- rebound schema, version 3: the policy is a function of the set of a contact's events, not
-- of their arrival order (issue #23). An event dated before the newest order-sensitive one
-- makes the store re-fold the contact's events in time order from its base: the default
-- state, or the last status set by hand.

-- When the newest bounce, delivery, complaint or unsubscribe of the contact happened.
ALTER TABLE contacts ADD COLUMN last_policy_event_at BIGINT;
-- The last status set by hand (API, import): when, what, and why.
ALTER TABLE contacts ADD COLUMN manual_at BIGINT;
ALTER TABLE contacts ADD COLUMN manual_status TEXT;
ALTER TABLE contacts ADD COLUMN manual_reason TEXT;

UPDATE contacts SET last_policy_event_at = (
    SELECT MAX(e.occurred_at) FROM events e
    WHERE e.contact_id = contacts.id AND e.kind IN ('bounce', 'delivery', 'complaint', 'unsubscribe')
);

-- Existing manual changes are the timeline entries written for them (provider `api` or
-- `import`, dedup key `PROVIDER:manual:UUID`); the newest one is the base.
UPDATE contacts SET
    manual_at = (
        SELECT e.occurred_at FROM events e
        WHERE e.contact_id = contacts.id AND e.kind = 'other' AND e.provider IN ('api', 'import')
              AND e.dedup_key LIKE e.provider || ':manual:%'
        ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1),
    manual_status = (
        SELECT e.status_after FROM events e
        WHERE e.contact_id = contacts.id AND e.kind = 'other' AND e.provider IN ('api', 'import')
              AND e.dedup_key LIKE e.provider || ':manual:%'
        ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1),
    manual_reason = (
        SELECT e.reason FROM events e
        WHERE e.contact_id = contacts.id AND e.kind = 'other' AND e.provider IN ('api', 'import')
              AND e.dedup_key LIKE e.provider || ':manual:%'
        ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1);
