//! One module per page.

pub mod analysis_common;
pub mod audience;
pub mod compare;
pub mod destinations;
pub mod funnels;
pub mod lookup;
pub mod overview;
pub mod pivot;
pub mod segments;
pub mod settings;
pub mod signin;
pub mod split;
pub mod tags;
pub mod trends;
