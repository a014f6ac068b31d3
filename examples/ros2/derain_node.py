"""A minimal ROS 2 node: sensor_msgs/Image in, derained sensor_msgs/Image out.

Parameters: model (path or "default"), input_topic, output_topic, size ("WxH"
to infer at a fixed size, "" for the camera's own). See README.md.
"""

import rclpy
from cv_bridge import CvBridge
from rclpy.node import Node
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image

from rainloop.runtime import Derainer
from rainloop.sizes import parse_size

# Keep only the newest camera frame: a slow derainer skips frames instead of lagging behind.
LATEST_ONLY = QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=1,
                         reliability=QoSReliabilityPolicy.BEST_EFFORT)


class DerainNode(Node):
    def __init__(self):
        super().__init__("rainloop_derain")
        model = self.declare_parameter("model", "default").value
        input_topic = self.declare_parameter("input_topic", "image_raw").value
        output_topic = self.declare_parameter("output_topic", "image_derained").value
        size = self.declare_parameter("size", "").value
        self.derainer = Derainer(model, size=parse_size(size) if size else None)
        self.bridge = CvBridge()
        self.publisher = self.create_publisher(Image, output_topic, 1)
        self.create_subscription(Image, input_topic, self.on_image, LATEST_ONLY)
        self.get_logger().info(f"{self.derainer.model_path.name} on {self.derainer.backend} "
                               f"({self.derainer.precision}): {input_topic} -> {output_topic}")

    def on_image(self, msg: Image) -> None:
        frame = self.bridge.imgmsg_to_cv2(msg, desired_encoding="bgr8")
        out = self.bridge.cv2_to_imgmsg(self.derainer(frame), encoding="bgr8")
        out.header = msg.header  # same stamp and frame_id: downstream sync keeps working
        self.publisher.publish(out)


def main() -> None:
    rclpy.init()
    node = DerainNode()
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.derainer.close()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == "__main__":
    main()
