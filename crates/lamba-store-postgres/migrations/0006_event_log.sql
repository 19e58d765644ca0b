-- The event log: lambda console output and failures, for operators.
-- Pruned by age and count; ids grow with insertion.
CREATE TABLE event_logs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    insert_instant BIGINT NOT NULL,
    event_type     TEXT NOT NULL,
    message        TEXT NOT NULL
);

CREATE INDEX event_logs_by_instant ON event_logs (insert_instant, id);
