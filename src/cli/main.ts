console.log("vnat cli: not yet");
