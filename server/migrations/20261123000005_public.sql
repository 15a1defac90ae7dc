-- Public disclosure: the units an admin made public (off by default), and whether their late
-- officers are named on the public page (the city's decision; every change is audited).
CREATE TABLE public_units (
    unit       TEXT        PRIMARY KEY,
    officers   BOOLEAN     NOT NULL DEFAULT false,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
