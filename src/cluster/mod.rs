//! The cluster as the operator sees it: one watch of every kind it reads, the reflector stores
//! both doors (the controllers and the admission webhook) decide from, and the trigger streams the
//! controllers react to. Owned by neither door; [`crate::runtime`] starts the watches.
//!
//! * [`stored`]: what the stores keep of each object (a workload: its facts).
//! * [`watch`]: reflected watches that back off on their own, and trigger streams.
//! * [`watches`]: every watch `aims run` starts, and the AISystem events shared by controllers.
//! * [`stores`]: the stores and their queries.
//! * [`crds`]: which governed custom-resource kinds are installed, from one watch of the CRDs.
//! * [`custom`]: the custom-resource kinds of the governed kinds' data, each watched once its CRD
//!   exists.

pub mod crds;
pub mod custom;
pub mod stored;
pub mod stores;
pub mod watch;
pub mod watches;

pub use stores::{Guarded, StoredBindings, Stores, Synced, as_bindings, readable, store_of};
