//! The one SQLite file: schema and migrations, the grammers session, portals,
//! ghosts, the message map and the appservice transaction log. Nothing outside
//! this module writes SQL.
