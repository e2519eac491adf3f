//! Partition tables: the `rootfs` layout (mbrman/gptman) and GPT backup relocation.
