-- Named locks with an expiry, held by one process at a time (e.g. who syncs the commands).

CREATE TABLE locks (
    name   TEXT PRIMARY KEY,
    owner  TEXT NOT NULL,
    until  REAL NOT NULL
);
