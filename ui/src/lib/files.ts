// A picked file's bytes as base64, the form the backend's upload takes (the reply box and the
// template editor both attach files this way).

/** The file's content base64-encoded, or null when it cannot be read (gone, no permission). */
export function readBase64(file: Blob): Promise<string | null> {
  return new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  }).catch(() => null);
}
