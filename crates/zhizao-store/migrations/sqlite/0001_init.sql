-- Tenants, users, sessions and the ISA-95 equipment hierarchy.
-- Times are epoch milliseconds (INTEGER) in both dialects.
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE sites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, code)
);

CREATE TABLE areas (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE RESTRICT,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, code)
);

CREATE TABLE lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    area_id INTEGER NOT NULL REFERENCES areas(id) ON DELETE RESTRICT,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, code)
);

CREATE TABLE equipment (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE RESTRICT,
    line_id INTEGER NOT NULL REFERENCES lines(id) ON DELETE RESTRICT,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    equipment_type TEXT NOT NULL,
    work_cell TEXT,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, code)
);
CREATE INDEX equipment_line ON equipment(line_id);

-- Last known live status per machine, so a restart resumes the screen.
CREATE TABLE equipment_status (
    equipment_id INTEGER PRIMARY KEY REFERENCES equipment(id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    since INTEGER NOT NULL,
    day TEXT NOT NULL,
    good_today INTEGER NOT NULL,
    scrap_today INTEGER NOT NULL,
    temperature DOUBLE PRECISION,
    updated_at INTEGER NOT NULL
);

CREATE TABLE state_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    equipment_id INTEGER NOT NULL REFERENCES equipment(id) ON DELETE CASCADE,
    ts INTEGER NOT NULL,
    state TEXT NOT NULL,
    previous TEXT
);
CREATE INDEX state_events_tenant_ts ON state_events(tenant_id, ts);
