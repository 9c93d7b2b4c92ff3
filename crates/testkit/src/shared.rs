//! One Synapse per test binary, started by whichever test needs it first.
//!
//! The value lives in a `static` and is never dropped; the supervisor stops
//! Synapse when the test process exits (see [`crate::Synapse`]). Nothing in
//! it is tied to the runtime of the test that started it, so every
//! `#[tokio::test]` can use it from its own runtime.

use std::future::Future;

use tokio::sync::OnceCell;

use crate::{Result, Synapse, SynapseOptions};

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
