// The webcam (getUserMedia), shared by the Lesson 2 page (lesson2-camera.js) and the
// <kiln-classifier> widget: one stream opened on demand and shown in any number of <video>
// elements, frames taken as JPEG files in memory, and every way of failing said in words a
// person can act on. Nothing leaves the page.

/** Why the camera could not be had, in words a person can act on. */
function cameraProblem(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return "the camera was refused. Allow it for this page in the browser's site settings (the camera icon in the address bar), then try again";
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'no camera was found. Connect one, or use photos from a folder';
    case 'NotReadableError':
    case 'AbortError':
      return 'the camera could not be started: another program may be using it';
    default:
      return error?.message ?? String(error);
  }
}

export class Camera {
  /** @param {HTMLVideoElement[]} videos where the stream is shown once open */
  constructor(videos) {
    this.videos = videos;
    this.stream = null;
  }

  /** Opens the camera once (later calls reuse it); throws an Error whose message is `cameraProblem`'s. */
  async open() {
    if (this.stream) return this.stream;
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error('this browser gives this page no camera (cameras need https or localhost, and a browser that offers them)');
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      throw new Error(cameraProblem(error));
    }
    for (const video of this.videos) video.srcObject = this.stream;
    await this.videos[0].play().catch(() => {}); // autoplay may wait for the element to be shown
    return this.stream;
  }

  get on() {
    return this.stream !== null;
  }

  stop() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
  }
}

/** The frame `video` shows now, as a JPEG Blob. */
export async function frame(video) {
  if (!video.videoWidth) await new Promise((ready) => video.addEventListener('loadeddata', ready, { once: true }));
  const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
  canvas.getContext('2d').drawImage(video, 0, 0);
  return canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
}

/** A class name that can be a folder name in the dataset (and in a saved CSV): not empty, no slashes. */
export const goodClassName = (label) => Boolean(label) && !/[/\\]/.test(label);
