//! One homeserver of each kind per test binary, started by whichever test
//! needs it first.
//!
//! The value lives in a `static` and is never dropped; the supervisor stops
//! the server when the test process exits (see [`crate::Synapse`],
//! [`crate::Conduit`]). Nothing in
//! it is tied to the runtime of the test that started it, so every
//! `#[tokio::test]` can use it from its own runtime.

use std::future::Future;

use tokio::sync::OnceCell;

use crate::{Homeserver, HomeserverKind, HomeserverOptions, Result, Synapse, SynapseOptions};

/// A lazily started Synapse shared by the tests of one binary, together with
/// whatever `T` was prepared for it before it started (typically the
/// appservice slots — config and registration of each bridge instance the
/// tests will run — since Synapse only reads registrations at start).
///
/// ```no_run
/// use std::path::PathBuf;
/// use testkit::{SharedSynapse, SynapseOptions};
///
/// struct Slots { registrations: Vec<PathBuf> }
/// static SYNAPSE: SharedSynapse<Slots> = SharedSynapse::new();
///
/// # async fn example() -> Result<(), testkit::Error> {
/// let (synapse, slots) = SYNAPSE
///     .get_or_start(|| async {
///         let registrations = vec![/* write N registration files here */];
///         let options = SynapseOptions { registrations: registrations.clone(), ..Default::default() };
///         Ok((options, Slots { registrations }))
///     })
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct SharedSynapse<T = ()> {
    cell: OnceCell<(Synapse, T)>,
}

impl<T> SharedSynapse<T> {
    /// An empty slot for a `static`.
    pub const fn new() -> Self {
        Self {
            cell: OnceCell::const_new(),
        }
    }

    /// Returns the shared server, starting it first if no test has. `prepare`
    /// runs once, before the start; if it or the start fails, the error is
    /// returned to this caller and the next caller tries again.
    pub async fn get_or_start<F, Fut>(&self, prepare: F) -> Result<(&Synapse, &T)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SynapseOptions, T)>>,
    {
        let (synapse, prepared) = self
            .cell
            .get_or_try_init(|| async {
                let (options, prepared) = prepare().await?;
                Ok::<_, crate::Error>((Synapse::start(options).await?, prepared))
            })
            .await?;
        Ok((synapse, prepared))
    }
}

impl<T> Default for SharedSynapse<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A lazily started homeserver of each kind shared by the tests of one
/// binary, each with whatever `T` was prepared for it before it started
/// (typically the bridge instances whose registrations it carries).
pub struct SharedHomeserver<T = ()> {
    synapse: OnceCell<(Homeserver, T)>,
    conduit: OnceCell<(Homeserver, T)>,
}

impl<T> SharedHomeserver<T> {
    /// Empty slots for a `static`.
    pub const fn new() -> Self {
        Self {
            synapse: OnceCell::const_new(),
            conduit: OnceCell::const_new(),
        }
    }

    /// Returns the shared server of `kind`, starting it first if no test
    /// has. `prepare` runs once per kind, before the start, and says which
    /// registrations the server gets; if it or the start fails, the error is
    /// returned to this caller and the next caller tries again.
    pub async fn get_or_start<F, Fut>(
        &self,
        kind: HomeserverKind,
        prepare: F,
    ) -> Result<(&Homeserver, &T)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(HomeserverOptions, T)>>,
    {
        let cell = match kind {
            HomeserverKind::Synapse => &self.synapse,
            HomeserverKind::Conduit => &self.conduit,
        };
        let (server, prepared) = cell
            .get_or_try_init(|| async {
                let (options, prepared) = prepare().await?;
                Ok::<_, crate::Error>((Homeserver::start(kind, options).await?, prepared))
            })
            .await?;
        Ok((server, prepared))
    }
}

impl<T> Default for SharedHomeserver<T> {
    fn default() -> Self {
        Self::new()
    }
}
