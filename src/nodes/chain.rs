//! The worker's nodes as a chain of steps, built once at launch from the
//! plan: handoffdemo-2, then the optional mac-rewrite, then error-drop ->
//! drop, a tx queue, or port pairs. The chain gives the thread its node
//! list (`show runtime`, metrics), so no list or count is kept by hand.

use crate::dpdk::Burst;
use crate::ids::ThreadId;

use super::error_drop;
use super::frame::Frame;
use super::handoffdemo;
use super::interface_output::{PairOutput, TxOutput};
use super::mac_rewrite::MacRewrite;
use super::Node;

/// handoffdemo-2, the chain's first step.
pub struct HandoffDemo2 {
    pub thread: ThreadId,
}

impl HandoffDemo2 {
    #[inline(always)]
    pub fn process(&mut self, f: &mut Frame) {
        f.run(Node::HandoffDemo2, |f| handoffdemo::second(f, self.thread));
    }
}

/// error-drop -> drop, counting `completed packets` (the seed's end).
pub struct ErrorDrop;

impl ErrorDrop {
    #[inline(always)]
    pub fn process(&mut self, f: &mut Frame) {
        error_drop::process(f);
    }
}

/// The steps, written once: a variant, its state, the nodes it runs (in
/// order); each state's `process(&mut self, &mut Frame)` runs them. A new
/// node after handoffdemo-2 is one row.
macro_rules! steps {
    ($( $step:ident($state:ty) [$($node:ident),*]; )*) => {
        /// One step of a worker's chain.
        pub enum Step {
            $($step($state),)*
        }

        impl Step {
            /// The nodes this step runs, in order.
            pub fn nodes(&self) -> &'static [Node] {
                match self {
                    $(Step::$step(_) => &[$(Node::$node),*],)*
                }
            }

            #[inline(always)]
            fn process(&mut self, f: &mut Frame) {
                match self {
                    $(Step::$step(s) => s.process(f),)*
                }
            }
        }
    };
}

steps! {
    HandoffDemo2(HandoffDemo2)  [HandoffDemo2];
    MacRewrite(MacRewrite)      [MacRewrite];
    ErrorDrop(ErrorDrop)        [ErrorDrop, Drop];
    Tx(TxOutput)                [InterfaceOutput];
    Pairs(Box<PairOutput>)      [InterfaceOutput, ErrorDrop, Drop];
}

/// A worker's steps, in order; the last one is where packets leave.
pub struct WorkerChain {
    steps: Vec<Step>,
}

impl WorkerChain {
    /// handoffdemo-2 on `thread`, then `steps`.
    pub fn new(thread: ThreadId, steps: Vec<Step>) -> WorkerChain {
        let mut all = vec![Step::HandoffDemo2(HandoffDemo2 { thread })];
        all.extend(steps);
        WorkerChain { steps: all }
    }

    /// Every node the chain runs, in order, each once.
    pub fn nodes(&self) -> Vec<Node> {
        let mut nodes: Vec<Node> = Vec::new();
        for n in self.steps.iter().flat_map(|s| s.nodes()) {
            if !nodes.contains(n) {
                nodes.push(*n);
            }
        }
        nodes
    }

    /// Runs every step on the frame's burst, in order.
    #[inline]
    pub fn process(&mut self, f: &mut Frame) {
        for s in self.steps.iter_mut() {
            s.process(f);
        }
    }

    /// Whether interface-output holds a refused tail for a retry (the
    /// worker's burst with one tx queue; parts of it with pairs).
    #[inline(always)]
    pub fn holding(&self, burst: &Burst) -> bool {
        match self.steps.last() {
            Some(Step::Tx(_)) => !burst.is_empty(),
            Some(Step::Pairs(p)) => p.holding(),
            _ => false,
        }
    }

    /// Retries the held tail once (the frame holds the worker's burst);
    /// returns whether some is still held.
    #[cold]
    pub fn retry_held(&mut self, f: &mut Frame) -> bool {
        match self.steps.last_mut() {
            Some(Step::Tx(t)) => t.retry_held(f),
            Some(Step::Pairs(p)) => p.retry_held(f),
            _ => false,
        }
    }

    /// Frees a held tail when the run stops.
    #[cold]
    pub fn drop_held(&mut self, f: &mut Frame) {
        match self.steps.last_mut() {
            Some(Step::Tx(t)) => {
                t.drop_held(f);
            }
            Some(Step::Pairs(p)) => p.drop_held(f),
            _ => {}
        }
    }

    /// The traced-packet lists of held parts point into a trace buffer that
    /// was handed over.
    pub fn forget_traced(&mut self) {
        if let Some(Step::Pairs(p)) = self.steps.last_mut() {
            p.forget_traced();
        }
    }
}
