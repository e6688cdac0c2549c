-- The alert policies' state (driftgauge_alerting::policy::PolicyState as
-- JSON): per model and rule, whether it is firing, when it last fired (the
-- cooldown) and the recent windows of feature-drift rules (K of N). It is
-- written in the same transaction as the outbox rows of the triggers a window
-- fired, so after a restart cooldowns and hysteresis go on where they were and
-- a still-drifting model does not fire again.
--
-- One row: the state is one document, small (a few hundred bytes per model
-- and rule) and read once at start-up.

CREATE TABLE alert_policy_state (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    state          TEXT    NOT NULL,
    updated_at_ms  INTEGER NOT NULL
) STRICT;
