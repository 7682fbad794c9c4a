//! The boilerplate every `Metric` impl shares.

/// Implements the descriptive half of [`crate::Metric`]: name, category, direction and
/// parameters (the config serialised with serde).
macro_rules! metric_info {
    ($name:literal, $category:ident, $higher:expr) => {
        fn name(&self) -> &'static str {
            $name
        }
        fn category(&self) -> $crate::Category {
            $crate::Category::$category
        }
        fn higher_is_better(&self) -> Option<bool> {
            $higher
        }
        fn parameters(&self) -> serde_json::Value {
            $crate::metric::params(self)
        }
    };
}

pub(crate) use metric_info;
