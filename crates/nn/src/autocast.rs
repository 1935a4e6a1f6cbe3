//! Mixed precision through libtorch's autocast, in bfloat16.
//!
//! tch's own `autocast` only switches the CUDA autocast on, in its default dtype (fp16), and
//! does nothing without CUDA. Training in bf16 needs the dtype set as well, which is what
//! PyTorch's `torch.autocast(device_type, dtype=torch.bfloat16)` (and HF `--bf16`) does: matrix
//! products and attention run in bf16, while LayerNorm, softmax and the losses stay in fp32 and
//! the weights and their gradients remain fp32. [`Autocast`] does the same for one device type,
//! CUDA or CPU, and restores the previous state when dropped.
//!
//! The switches are ATen functions that the C API of torch-sys does not export, so they are
//! bound here by their C++ names in `libtorch_cpu.so` (torch 2.11, the version this workspace
//! pins); the unit tests check that they take effect.

use tch::{Device, Kind};

/// `c10::DeviceType` of a device.
fn device_type(device: Device) -> i8 {
    match device {
        Device::Cpu => 0,
        Device::Cuda(_) => 1,
        Device::Mps => 13,
        Device::Vulkan => 10,
    }
}

/// `c10::ScalarType` of the reduced-precision kinds autocast accepts.
fn scalar_type(kind: Kind) -> Option<i8> {
    match kind {
        Kind::Half => Some(5),
        Kind::BFloat16 => Some(15),
        _ => None,
    }
}

fn kind_of(scalar_type: i8) -> Option<Kind> {
    match scalar_type {
        5 => Some(Kind::Half),
        15 => Some(Kind::BFloat16),
        _ => None,
    }
}

mod ffi {
    extern "C" {
        #[link_name = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"]
        pub fn is_autocast_enabled(device_type: i8) -> bool;
        #[link_name = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"]
        pub fn set_autocast_enabled(device_type: i8, enabled: bool);
        #[link_name = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE"]
        pub fn get_autocast_dtype(device_type: i8) -> i8;
        #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
        pub fn set_autocast_dtype(device_type: i8, dtype: i8);
        #[link_name = "_ZN2at8autocast17increment_nestingEv"]
        pub fn increment_nesting() -> i64;
        #[link_name = "_ZN2at8autocast17decrement_nestingEv"]
        pub fn decrement_nesting() -> i64;
        #[link_name = "_ZN2at8autocast11clear_cacheEv"]
        pub fn clear_cache();
    }
}

/// A reduced kind autocast cannot run in.
#[derive(Debug, thiserror::Error)]
#[error("autocast runs in bf16 or fp16, not {0:?}")]
pub struct AutocastKindError(pub Kind);

/// Autocast switched on for one device type while this value lives (like a `with
/// torch.autocast(...)` block); dropping it restores the previous setting. Autocast state is
/// per thread: create and drop it on the thread that runs the forward pass.
#[must_use = "autocast is switched off again when the guard is dropped"]
pub struct Autocast {
    device_type: i8,
    was_enabled: bool,
    previous_dtype: i8,
}

impl Autocast {
    /// Runs eligible operations on `device` in `kind` (bf16, or fp16 without loss scaling)
    /// until the guard is dropped.
    pub fn enter(device: Device, kind: Kind) -> Result<Self, AutocastKindError> {
        let dtype = scalar_type(kind).ok_or(AutocastKindError(kind))?;
        let device_type = device_type(device);
        // SAFETY: plain setters and getters of ATen's thread-local autocast state.
        unsafe {
            let guard = Autocast {
                device_type,
                was_enabled: ffi::is_autocast_enabled(device_type),
                previous_dtype: ffi::get_autocast_dtype(device_type),
            };
            ffi::set_autocast_dtype(device_type, dtype);
            ffi::set_autocast_enabled(device_type, true);
            ffi::increment_nesting();
            Ok(guard)
        }
    }

    /// Whether autocast is on for `device`'s type on this thread.
    pub fn is_enabled(device: Device) -> bool {
        // SAFETY: a getter of thread-local state.
        unsafe { ffi::is_autocast_enabled(device_type(device)) }
    }

    /// The kind autocast runs `device`'s eligible operations in on this thread.
    pub fn kind(device: Device) -> Option<Kind> {
        // SAFETY: a getter of thread-local state.
        kind_of(unsafe { ffi::get_autocast_dtype(device_type(device)) })
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        // SAFETY: restores what `enter` read; the cast-weight cache is cleared when the
        // outermost autocast region ends, as `torch.autocast.__exit__` does.
        unsafe {
            if ffi::decrement_nesting() == 0 {
                ffi::clear_cache();
            }
            ffi::set_autocast_enabled(self.device_type, self.was_enabled);
            ffi::set_autocast_dtype(self.device_type, self.previous_dtype);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    #[test]
    fn matmuls_run_in_bf16_inside_and_fp32_after() {
        let a = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::randn([8, 3], (Kind::Float, Device::Cpu));
        assert!(!Autocast::is_enabled(Device::Cpu));
        {
            let _guard = Autocast::enter(Device::Cpu, Kind::BFloat16).unwrap();
            assert!(Autocast::is_enabled(Device::Cpu));
            assert_eq!(Autocast::kind(Device::Cpu), Some(Kind::BFloat16));
            let c = a.matmul(&b);
            assert_eq!(c.kind(), Kind::BFloat16);
        }
        assert!(!Autocast::is_enabled(Device::Cpu));
        assert_eq!(a.matmul(&b).kind(), Kind::Float);
    }

    #[test]
    fn gradients_reach_fp32_weights_through_bf16_products() {
        let w = Tensor::randn([8, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let x = Tensor::randn([4, 8], (Kind::Float, Device::Cpu));
        let loss = {
            let _guard = Autocast::enter(Device::Cpu, Kind::BFloat16).unwrap();
            x.matmul(&w)
                .to_kind(Kind::Float)
                .pow_tensor_scalar(2)
                .sum(Kind::Float)
        };
        loss.backward();
        let grad = w.grad();
        assert_eq!(grad.kind(), Kind::Float);
        // Close to the fp32 gradient 2 xᵀ(xw), to bf16's precision.
        let want = x.transpose(0, 1).matmul(&x.matmul(&w)) * 2.0;
        let rel = ((&grad - &want).abs().max() / want.abs().max()).double_value(&[]);
        assert!(rel < 0.05, "relative gradient error {rel}");
    }

    #[test]
    fn nested_guards_restore_the_outer_state() {
        let outer = Autocast::enter(Device::Cpu, Kind::BFloat16).unwrap();
        {
            let _inner = Autocast::enter(Device::Cpu, Kind::Half).unwrap();
            assert_eq!(Autocast::kind(Device::Cpu), Some(Kind::Half));
        }
        assert!(Autocast::is_enabled(Device::Cpu));
        assert_eq!(Autocast::kind(Device::Cpu), Some(Kind::BFloat16));
        drop(outer);
        assert!(!Autocast::is_enabled(Device::Cpu));
    }

    #[test]
    fn full_precision_kinds_are_refused() {
        assert!(Autocast::enter(Device::Cpu, Kind::Float).is_err());
    }
}
