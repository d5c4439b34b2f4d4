//! The one error type for everything a user can get wrong at run time.

/// An error from constnet: wrong lengths, unknown names, labels out of range, bad
/// hyperparameters, a non-finite loss.
///
/// ```
/// use constnet::Error;
/// let e = Error::UnknownParameter { name: "fc9.weight".into(), known: "fc1.weight".into() };
/// assert_eq!(e.to_string(), "unknown parameter `fc9.weight` (known: fc1.weight)");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter name that the network does not have.
    #[error("unknown parameter `{name}` (known: {known})")]
    UnknownParameter {
        /// The name asked for.
        name: String,
        /// The names the network has, comma-separated.
        known: String,
    },
    /// A buffer whose length does not match what it is read into or written from.
    #[error("{what}: expected {expected} values, got {got}")]
    WrongLength {
        /// What the buffer is.
        what: String,
        /// The length needed.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A batch larger than the tape was allocated for.
    #[error("batch of {got} samples does not fit a tape allocated for at most {max}")]
    BatchTooLarge {
        /// The tape's maximum batch size.
        max: usize,
        /// The batch size given.
        got: usize,
    },
    /// A batch with no samples.
    #[error("empty batch: at least one sample is needed")]
    EmptyBatch,
    /// A class label not below the number of classes.
    #[error("label {label} of sample {sample} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// Index of the sample in its batch, or in its set where a whole set is checked (as
        /// [`fit`](crate::train::fit) does before it trains).
        sample: usize,
        /// The label found.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A hyperparameter outside its valid range.
    #[error("{name} = {value} is out of range: {expected}")]
    BadHyperparameter {
        /// The hyperparameter's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The valid range, in words.
        expected: &'static str,
    },
    /// A data file that is missing, unreadable or not what it should be: a bad magic number,
    /// a truncated payload, a width that differs from the dataset's type, a label out of
    /// range.
    #[error("{path}: expected {expected}, found {found}")]
    Data {
        /// The file (and line, where there is one).
        path: String,
        /// What the loader expected.
        expected: String,
        /// What it found.
        found: String,
    },
    /// Training stopped because the loss became NaN or infinite; the network keeps the
    /// parameters of the last step whose loss was finite.
    #[error(
        "loss became {loss} at epoch {epoch}, step {step}; training stopped and the parameters \
         of the last finite step were kept (try a smaller learning rate)"
    )]
    Diverged {
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The loss value.
        loss: f64,
    },
    /// A checkpoint that cannot be written, read, or loaded into the given network.
    #[error("checkpoint {path}: {}", problems.join("; "))]
    Checkpoint {
        /// The file.
        path: String,
        /// Every problem found: each missing, unexpected or misshapen tensor, or why the file
        /// could not be read or written.
        problems: Vec<String>,
    },
    /// A set given to [`fit`](crate::train::fit) with no samples.
    #[error("the {set} set is empty: it needs at least one sample")]
    EmptySet {
        /// Which set: `"training"` or `"validation"`.
        set: &'static str,
    },
    /// A set given to [`fit`](crate::train::fit) holds a NaN or infinite value: found
    /// before training, so nothing was trained.
    #[error(
        "{set} {what} of sample {sample}, element {element}, is {value}: the data must be \
         finite"
    )]
    NonFiniteData {
        /// Which set: `"training"` or `"validation"`.
        set: &'static str,
        /// `"input"` or `"target"`.
        what: &'static str,
        /// The sample's index in the set.
        sample: usize,
        /// The element's index within the sample.
        element: usize,
        /// The value.
        value: f64,
    },
    /// A training step left a parameter (or a batch norm statistic) NaN or infinite although
    /// its loss was finite; the network keeps the parameters and state from before it.
    #[error(
        "{what} `{tensor}` became {value} in the update of epoch {epoch}, step {step}; \
         training stopped and the parameters from before it were kept"
    )]
    NonFiniteStep {
        /// What was not finite: `"the gradient of"` (the update then spread it to the
        /// parameter) or `"parameter"` / `"state"`.
        what: &'static str,
        /// The tensor's name, such as `fc1.weight`.
        tensor: String,
        /// The epoch, from 1.
        epoch: usize,
        /// The step within the epoch, from 1.
        step: usize,
        /// The first non-finite value found.
        value: f64,
    },
    /// Saved state (an update rule's, from a checkpoint) that cannot be resumed from: a
    /// missing buffer, a NaN, a negative sum of squares, a step counter at its limit.
    #[error("{name}: {problem}")]
    BadState {
        /// What the state is.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A file that could not be created or written (a run's record).
    #[error("{path}: {problem}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        problem: String,
    },
    /// A check that does not apply to what it was given, such as the loss-at-chance check
    /// for a loss that states no value at chance.
    #[error("not applicable: {what}")]
    NotApplicable {
        /// What does not apply, and why.
        what: String,
    },
    /// A hyperparameter search asked for something it cannot do: a range that is empty, a
    /// name its space does not have, a results file of another search.
    #[error("search: {what}")]
    Search {
        /// What is wrong.
        what: String,
    },
    /// A loss that is NaN or infinite.
    #[error("loss is not finite ({value})")]
    NonFiniteLoss {
        /// The loss value.
        value: f64,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: &std::path::Path, problem: impl std::fmt::Display) -> Self {
        Error::Io {
            path: path.display().to_string(),
            problem: problem.to_string(),
        }
    }
}
