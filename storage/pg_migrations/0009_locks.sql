-- Twin of ../migrations/0009_locks.sql: named locks with an expiry, one process at a time.

CREATE TABLE locks (
    name   text             PRIMARY KEY,
    owner  text             NOT NULL,
    until  double precision NOT NULL
);
