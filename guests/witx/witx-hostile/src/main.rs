//! Calls every WITX `wasi_ephemeral_nn` import with what a hostile or broken module might pass:
//! pointers outside its memory, huge lengths, unknown handles, bad enums, a too-small output
//! buffer. Prints `CASE = CODE` for each (the host must answer each with an error code, never a
//! trap or a panic), then `done`. Usage: witx-hostile MODEL-NAME.

#[link(wasm_import_module = "wasi_ephemeral_nn")]
extern "C" {
    fn load(builders: i32, count: i32, encoding: i32, target: i32, graph_out: i32) -> i32;
    fn load_by_name(name: i32, len: i32, graph_out: i32) -> i32;
    fn init_execution_context(graph: i32, ctx_out: i32) -> i32;
    fn set_input(ctx: i32, index: i32, tensor: i32) -> i32;
    fn compute(ctx: i32) -> i32;
    fn get_output(ctx: i32, index: i32, out: i32, max: i32, written_out: i32) -> i32;
}

const FAR: i32 = -16; // 0xFFFF_FFF0: past the end of any wasm32 memory nnhost allows

fn show(case: &str, code: i32) {
    println!("{case} = {code}");
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "model".into());
    let mut out: u32 = 0;
    let out_ptr = &mut out as *mut u32 as i32;
    unsafe {
        // load: builders array out of bounds, a builder pointing out of bounds, too many builders,
        // bad encoding, bad target, out pointer out of bounds.
        show("load_builders_oob", load(FAR, 1, 1, 0, out_ptr));
        let bad_builder: [u32; 2] = [0xFFFF_0000, 0x7FFF_FFFF];
        show("load_builder_data_oob", load(bad_builder.as_ptr() as i32, 1, 1, 0, out_ptr));
        show("load_huge_count", load(bad_builder.as_ptr() as i32, i32::MAX, 1, 0, out_ptr));
        let tiny = [0u8; 4];
        let ok_builder: [u32; 2] = [tiny.as_ptr() as u32, 4];
        show("load_bad_encoding", load(ok_builder.as_ptr() as i32, 1, 99, 0, out_ptr));
        show("load_bad_target", load(ok_builder.as_ptr() as i32, 1, 1, 99, out_ptr));
        // load_by_name: name out of bounds, huge length, unknown name, out pointer out of bounds.
        show("load_by_name_oob", load_by_name(FAR, 8, out_ptr));
        show("load_by_name_huge", load_by_name(name.as_ptr() as i32, i32::MAX, out_ptr));
        show("load_by_name_unknown", load_by_name(b"no-such-model".as_ptr() as i32, 13, out_ptr));
        show("load_by_name_out_oob", load_by_name(name.as_ptr() as i32, name.len() as i32, FAR));
        // Handles that do not exist.
        show("init_unknown_graph", init_execution_context(12345, out_ptr));
        show("set_input_unknown_ctx", set_input(777, 0, 0));
        show("compute_unknown_ctx", compute(777));
        show("get_output_unknown_ctx", get_output(777, 0, out_ptr, 4, out_ptr));
        // A real graph and context, then bad tensors and buffers.
        let rc = load_by_name(name.as_ptr() as i32, name.len() as i32, out_ptr);
        show("load_by_name_ok", rc);
        let graph = out as i32;
        let rc = init_execution_context(graph, out_ptr);
        show("init_ok", rc);
        let ctx = out as i32;
        show("set_input_tensor_oob", set_input(ctx, 0, FAR));
        let dims: [u32; 1] = [4];
        let data = [0u8; 16];
        // tensor record: dims ptr, dims len, type (u8 in 4 bytes), data ptr, data len
        let rec = |dims_ptr: u32, rank: u32, ty: u32, data_ptr: u32, len: u32| [dims_ptr, rank, ty, data_ptr, len];
        let t = rec(FAR as u32, 1, 1, data.as_ptr() as u32, 16);
        show("set_input_dims_oob", set_input(ctx, 0, t.as_ptr() as i32));
        let t = rec(dims.as_ptr() as u32, 0x4000_0000, 1, data.as_ptr() as u32, 16);
        show("set_input_huge_rank", set_input(ctx, 0, t.as_ptr() as i32));
        let t = rec(dims.as_ptr() as u32, 1, 1, data.as_ptr() as u32, 0x7FFF_FFFF);
        show("set_input_huge_data", set_input(ctx, 0, t.as_ptr() as i32));
        let t = rec(dims.as_ptr() as u32, 1, 77, data.as_ptr() as u32, 16);
        show("set_input_bad_type", set_input(ctx, 0, t.as_ptr() as i32));
        let t = rec(dims.as_ptr() as u32, 1, 1, data.as_ptr() as u32, 16);
        show("set_input_wrong_shape", set_input(ctx, 0, t.as_ptr() as i32));
        show("set_input_bad_index", set_input(ctx, 99, t.as_ptr() as i32));
        show("compute_without_inputs", compute(ctx));
        show("get_output_before_compute", get_output(ctx, 0, data.as_ptr() as i32, 16, out_ptr));
        show("get_output_buffer_oob", get_output(ctx, 0, FAR, 16, out_ptr));
    }
    println!("done");
}
