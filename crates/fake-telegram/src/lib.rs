//! A fake Telegram datacenter speaking MTProto 2.0 over TCP on loopback, so the
//! real, unmodified grammers client can be tested without reaching Telegram.
